// The sample SPA's task list: every page of the user's tasks (following the API's `next` cursors, up to a bound),
// each task with its Done and Delete buttons.
import { isRecord } from '../../../shared/narrow.js';
import type { Call } from './calls.js';
import { button, show, stringField } from './page.js';

/** The most task pages the list follows (`next` cursors) in one go. */
const MAX_TASK_PAGES = 20;

/** The page after `cursor`; undefined when there is none to show (msal redirected, or the error is shown). */
export type NextTaskPage = (cursor: string) => Promise<{ page: unknown } | undefined>;

/** Shows the first page of tasks, then follows each page's `next` cursor; `run` runs a task's button's call. */
export async function showTasks(
  firstPage: unknown,
  nextPage: NextTaskPage,
  run: (call: Call) => Promise<void>,
): Promise<void> {
  const tasks: unknown[] = [];
  let page = firstPage;
  for (let pages = 1; ; pages += 1) {
    if (isRecord(page) && Array.isArray(page.value)) tasks.push(...(page.value as unknown[]));
    const next = isRecord(page) && typeof page.next === 'string' ? page.next : undefined;
    if (next === undefined || pages >= MAX_TASK_PAGES) break;
    const read = await nextPage(next);
    if (read === undefined) return;
    page = read.page;
  }
  renderTasks(tasks, run);
}

function renderTasks(tasks: readonly unknown[], run: (call: Call) => Promise<void>): void {
  const list = document.querySelector('[data-testid="tasks"]');
  if (list === null) return;
  list.replaceChildren(
    ...tasks.flatMap((task) => {
      const id = stringField(task, 'id');
      if (id === '') return [];
      const completed = isRecord(task) && task.completed === true;
      const item = document.createElement('li');
      item.dataset.testid = `task-${id}`;
      item.dataset.completed = String(completed);
      const title = document.createElement('span');
      title.textContent = stringField(task, 'title');
      item.append(
        title,
        button(`task-${id}-complete`, 'Done', () => run({ action: 'task-complete', id }), completed),
        button(`task-${id}-delete`, 'Delete', () => run({ action: 'task-delete', id })),
      );
      return [item];
    }),
  );
  show('tasks-count', `${tasks.length} tasks`);
}
