/**
 * The load benchmark's write workload (design "this API, writes"): each client's calls on the Tasks API routes, and
 * the check of every answer. A client's first call creates its first task (its miss); then it repeats a cycle of
 * five, three of them writes: list the caller's tasks (first page), complete its oldest task (PATCH), create one
 * (POST), read the newest back (GET by id), delete the oldest (DELETE). Calls of one client must not overlap
 * (bench/load.ts keeps one in flight per client): each picks its task from what the previous answers said.
 * No I/O here: bench/load.ts sends the requests and hands the answers back.
 */
import { isRecord } from '../shared/narrow.js';

export interface ApiRequest {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** The path on the host, with its query. */
  path: string;
  /** Sent as JSON. */
  body?: unknown;
  /** Read the answer's JSON body, to check it. */
  readBody?: boolean;
}

/** What the check needs of an answer. */
export interface TaskAnswer {
  status: number;
  location: string | null;
  body: unknown;
}

type TaskStep = 'create' | 'list' | 'complete' | 'read' | 'delete';

/** The steady calls of a client, in order, after its first (a create). */
const CYCLE: readonly TaskStep[] = ['list', 'complete', 'create', 'read', 'delete'];

/** The Tasks API emulator's request kind each step makes (its counters, dev/emulators/tasks/server.ts). */
const KIND_OF: Record<TaskStep, string> = {
  create: 'tasks.create',
  list: 'tasks.list',
  complete: 'tasks.update',
  read: 'tasks.read',
  delete: 'tasks.delete',
};

interface HeldTask {
  id: string;
  title: string;
  completed: boolean;
}

interface ClientState {
  calls: number;
  created: number;
  /** The client's own tasks, oldest first. */
  held: HeldTask[];
}

export interface TaskRequest extends ApiRequest {
  step: TaskStep;
  client: number;
  user: number;
  /** The task the request acts on (complete, read, delete) or creates (its title only). */
  task: HeldTask;
}

export class TaskWorkload {
  readonly #clients = new Map<number, ClientState>();
  #requested: Record<string, number> = {};

  /** `prefix` starts every title, with the user and the client: a page shows whose tasks it holds. */
  constructor(private readonly prefix: string) {}

  /** The client's next request; its first is a create, and a client left without a task creates one. */
  next(client: number, user: number): TaskRequest {
    const state = this.#clients.get(client) ?? { calls: 0, created: 0, held: [] };
    this.#clients.set(client, state);
    const planned = state.calls === 0 ? 'create' : (CYCLE[(state.calls - 1) % CYCLE.length] ?? 'list');
    state.calls += 1;
    const oldest = state.held[0];
    const newest = state.held.at(-1);
    const needsTask = planned === 'complete' || planned === 'read' || planned === 'delete';
    const step = needsTask && (oldest === undefined || newest === undefined) ? 'create' : planned;
    this.#requested[KIND_OF[step]] = (this.#requested[KIND_OF[step]] ?? 0) + 1;
    const base = { step, client, user };
    const taskPath = (task: HeldTask): string => `/api/tasks/${encodeURIComponent(task.id)}`;
    if (step === 'list') {
      return {
        ...base,
        method: 'GET',
        path: '/api/tasks',
        readBody: true,
        task: { id: '', title: '', completed: false },
      };
    }
    if (step === 'complete' && oldest !== undefined) {
      return {
        ...base,
        method: 'PATCH',
        path: taskPath(oldest),
        body: { completed: true },
        readBody: true,
        task: oldest,
      };
    }
    if (step === 'read' && newest !== undefined) {
      return { ...base, method: 'GET', path: taskPath(newest), readBody: true, task: newest };
    }
    if (step === 'delete' && oldest !== undefined) {
      return { ...base, method: 'DELETE', path: taskPath(oldest), task: oldest };
    }
    state.created += 1;
    const title = `${this.#owner(user)}${client} task ${state.created}`;
    return {
      ...base,
      step: 'create',
      method: 'POST',
      path: '/api/tasks',
      body: { title },
      readBody: true,
      task: { id: '', title, completed: false },
    };
  }

  /** What is wrong with the answer to `request` (undefined when nothing is), and the client's tasks updated. */
  check(request: TaskRequest, answer: TaskAnswer): string | undefined {
    const state = this.#clients.get(request.client);
    if (state === undefined) return `${request.method} ${request.step}: a request this workload did not make`;
    const expectedStatus = { create: 201, list: 200, complete: 200, read: 200, delete: 204 }[request.step];
    const what = `${request.method} /api/tasks${request.step === 'create' || request.step === 'list' ? '' : '/{id}'}`;
    if (answer.status !== expectedStatus) return `${what} answered ${answer.status}, not ${expectedStatus}`;
    if (request.step === 'delete') {
      state.held = state.held.filter((task) => task.id !== request.task.id);
      return undefined;
    }
    const body = answer.body;
    if (request.step === 'list') return this.#checkPage(body, request.user, state.held);
    if (!isRecord(body) || typeof body.id !== 'string' || typeof body.title !== 'string') {
      return `${what} answered ${expectedStatus} without a task`;
    }
    if (request.step === 'create') {
      if (body.title !== request.task.title || body.completed !== false) {
        return `${what} answered a task other than the one the caller created`;
      }
      if (answer.location !== `/api/tasks/${encodeURIComponent(body.id)}`) {
        return `${what} answered 201 with Location ${answer.location ?? '(none)'}`;
      }
      state.held.push({ id: body.id, title: body.title, completed: false });
      return undefined;
    }
    const completed = request.step === 'complete' ? true : request.task.completed;
    if (body.id !== request.task.id || body.title !== request.task.title || body.completed !== completed) {
      return `${what} answered a task other than the caller's (id, title or completed differ)`;
    }
    request.task.completed = completed;
    return undefined;
  }

  /** Requests made since the last call, by the Tasks API emulator's request kind. */
  takeRequested(): Record<string, number> {
    const requested = this.#requested;
    this.#requested = {};
    return requested;
  }

  #owner(user: number): string {
    // `-c` ends the user's part: u1-c is no prefix of u10-c.
    return `${this.prefix}-u${user}-c`;
  }

  /** A page holds only the user's own tasks and, when it is the last, every task this client holds. */
  #checkPage(body: unknown, user: number, held: readonly HeldTask[]): string | undefined {
    if (!isRecord(body) || !Array.isArray(body.value)) return 'GET /api/tasks answered 200 without a page';
    if (body.next !== undefined && (typeof body.next !== 'string' || body.next === '')) {
      return 'GET /api/tasks answered a page whose next is not a cursor';
    }
    const owner = this.#owner(user);
    const tasks = body.value.filter(isRecord);
    if (tasks.length !== body.value.length || tasks.some((task) => typeof task.title !== 'string')) {
      return 'GET /api/tasks answered a page of something other than tasks';
    }
    if (tasks.some((task) => !String(task.title).startsWith(owner))) {
      return "GET /api/tasks answered a task that is not the caller's";
    }
    const listed = new Set(tasks.map((task) => task.id));
    if (body.next === undefined && held.some((task) => !listed.has(task.id))) {
      return 'GET /api/tasks left out a task the caller holds';
    }
    return undefined;
  }
}
