// The Tasks API emulator's data: every user's tasks (keyed by the token's tenant and object id), their ids, pages
// and the checks of the request bodies. Pure, no HTTP.
import { randomBytes } from 'node:crypto';

import { isRecord } from '../../../shared/narrow.js';

export interface TodoTask {
  id: string;
  title: string;
  completed: boolean;
  createdDateTime: string;
  lastModifiedDateTime: string;
}

export interface TaskOwner {
  tid: string;
  oid: string;
}

export interface TaskPage {
  tasks: TodoTask[];
  /** The position after the page's last task, when more follow. */
  next: number | undefined;
}

/** Ids: URL-safe, always with `-` and `_`, so a client must bind them as one encoded segment. */
export const TASK_ID = /^tk_[A-Za-z0-9_-]{12}-[0-9a-z]{1,12}$/;
export const MAX_TITLE_LENGTH = 255;
/** Each user may keep this many tasks; the next create gets 409 `TaskLimitReached`. */
export const MAX_TASKS_PER_USER = 10_000;

export class TaskStore {
  /** Per user, in creation order (a task's position is its sequence number). */
  readonly #byUser = new Map<string, Map<string, TodoTask & { seq: number }>>();
  #seq = 0;

  list(owner: TaskOwner, after: number, pageSize: number): TaskPage {
    const tasks = [...(this.#byUser.get(keyOf(owner))?.values() ?? [])].filter((task) => task.seq > after);
    const page = tasks.slice(0, pageSize);
    const last = page.at(-1);
    return {
      tasks: page.map(publicTask),
      next: tasks.length > pageSize && last !== undefined ? last.seq : undefined,
    };
  }

  get(owner: TaskOwner, id: string): TodoTask | undefined {
    const task = this.#byUser.get(keyOf(owner))?.get(id);
    return task === undefined ? undefined : publicTask(task);
  }

  /** The new task, or undefined when the user has MAX_TASKS_PER_USER already. */
  create(owner: TaskOwner, input: { title: string; completed?: boolean }, now: Date): TodoTask | undefined {
    const key = keyOf(owner);
    const tasks = this.#byUser.get(key) ?? new Map<string, TodoTask & { seq: number }>();
    if (tasks.size >= MAX_TASKS_PER_USER) return undefined;
    this.#seq += 1;
    const id = `tk_${randomBytes(9).toString('base64url')}-${this.#seq.toString(36)}`;
    const task = {
      id,
      title: input.title,
      completed: input.completed ?? false,
      createdDateTime: now.toISOString(),
      lastModifiedDateTime: now.toISOString(),
      seq: this.#seq,
    };
    tasks.set(id, task);
    this.#byUser.set(key, tasks);
    return publicTask(task);
  }

  update(owner: TaskOwner, id: string, change: TaskChange, now: Date): TodoTask | undefined {
    const task = this.#byUser.get(keyOf(owner))?.get(id);
    if (task === undefined) return undefined;
    if (change.title !== undefined) task.title = change.title;
    if (change.completed !== undefined) task.completed = change.completed;
    task.lastModifiedDateTime = now.toISOString();
    return publicTask(task);
  }

  delete(owner: TaskOwner, id: string): boolean {
    return this.#byUser.get(keyOf(owner))?.delete(id) ?? false;
  }

  clear(): void {
    this.#byUser.clear();
  }
}

export interface TaskChange {
  title?: string;
  completed?: boolean;
}

export type BodyCheck<T> = { ok: true; value: T } | { ok: false; message: string };

/** `POST /tasks`: `{ title, completed? }`. */
export function parseNewTask(input: unknown): BodyCheck<{ title: string; completed?: boolean }> {
  const checked = parseTaskFields(input, true);
  if (!checked.ok) return checked;
  const { title, completed } = checked.value;
  if (title === undefined) return { ok: false, message: '"title" is required' };
  return { ok: true, value: { title, ...(completed === undefined ? {} : { completed }) } };
}

/** `PATCH /tasks/{id}`: `{ title?, completed? }`, at least one. */
export function parseTaskChange(input: unknown): BodyCheck<TaskChange> {
  const checked = parseTaskFields(input, false);
  if (!checked.ok) return checked;
  if (checked.value.title === undefined && checked.value.completed === undefined) {
    return { ok: false, message: 'the body must change "title" or "completed"' };
  }
  return checked;
}

function parseTaskFields(input: unknown, creating: boolean): BodyCheck<TaskChange> {
  if (!isRecord(input)) return { ok: false, message: 'the body must be a JSON object' };
  const readOnly = ['id', 'createdDateTime', 'lastModifiedDateTime'];
  const unknown = Object.keys(input).find((name) => name !== 'title' && name !== 'completed');
  if (unknown !== undefined) {
    return {
      ok: false,
      message: readOnly.includes(unknown)
        ? `"${unknown}" is read-only`
        : `unknown property "${unknown}"${creating ? '' : ' (a task has "title" and "completed")'}`,
    };
  }
  const { title, completed } = input;
  if (
    title !== undefined &&
    (typeof title !== 'string' || title.trim() === '' || title.length > MAX_TITLE_LENGTH)
  ) {
    return {
      ok: false,
      message: `"title" must be a non-blank string of at most ${MAX_TITLE_LENGTH} characters`,
    };
  }
  if (completed !== undefined && typeof completed !== 'boolean') {
    return { ok: false, message: '"completed" must be true or false' };
  }
  return {
    ok: true,
    value: {
      ...(typeof title === 'string' ? { title } : {}),
      ...(typeof completed === 'boolean' ? { completed } : {}),
    },
  };
}

/** The opaque `$skiptoken` of a position (the emulator's own encoding; clients follow the link as given). */
export function skipTokenOf(position: number): string {
  return Buffer.from(`tasks:${position}`).toString('base64url');
}

/** The position a `$skiptoken` names, 0 without one, undefined when it is not one of ours. */
export function positionOf(token: string | null): number | undefined {
  if (token === null) return 0;
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(token)) return undefined;
  const match = /^tasks:(\d{1,12})$/.exec(Buffer.from(token, 'base64url').toString('utf8'));
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

function keyOf(owner: TaskOwner): string {
  return `${owner.tid.toLowerCase()}|${owner.oid.toLowerCase()}`;
}

function publicTask(task: TodoTask & { seq: number }): TodoTask {
  const { seq: _seq, ...visible } = task;
  return visible;
}
