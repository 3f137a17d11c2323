// `npm start` runs this first: without Azure Functions Core Tools (`func`) on PATH it says what to run instead,
// in one line, rather than the shell's `func: not found`. Cross-platform: PATHEXT names Windows' func.cmd.
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

const extensions = process.platform === 'win32' ? (process.env.PATHEXT ?? '.EXE;.CMD').split(';') : [''];
const found = (process.env.PATH ?? '')
  .split(delimiter)
  .filter((dir) => dir !== '')
  .some((dir) =>
    extensions.some((extension) => {
      try {
        accessSync(join(dir, `func${extension}`), constants.X_OK);
        return true;
      } catch {
        return false;
      }
    }),
  );

if (!found) {
  console.error(
    'start: func (Azure Functions Core Tools v4) is not on PATH: run npm run dev (the whole sandbox) or npm run serve (the same bundle in the local host), or install Core Tools for npm start',
  );
  process.exit(1);
}
