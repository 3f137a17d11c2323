/**
 * `npm run package:dry-run`: what `azd package` does for the api service, without azd or Azure. The npm script runs
 * the prepackage hook first (`node infra/scripts/azd-hook.mjs prepackage`: install if needed, fresh build, staging);
 * this zips the staged folder (azure.yaml `dist`) into infra/build/api.zip, the file `azd deploy` would upload.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32 } from 'node:zlib';

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const STAGED = join(root, 'infra', 'build', 'functionapp');
export const ZIP = join(root, 'infra', 'build', 'api.zip');

function files(directory: string): string[] {
  return readdirSync(directory, { withFileTypes: true })
    .flatMap((entry) => {
      const path = join(directory, entry.name);
      return entry.isDirectory() ? files(path) : [path];
    })
    .sort();
}

/** A zip of the files under `directory` (stored, not compressed: enough for a dry run, and any unzip reads it). */
export function zipDirectory(directory: string): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const path of files(directory)) {
    const name = Buffer.from(relative(directory, path).split(sep).join('/'));
    const data = readFileSync(path);
    const checksum = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt32LE(checksum, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt32LE(checksum, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, data);
    centrals.push(central, name);
    offset += local.length + name.length + data.length;
  }
  const directoryBytes = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(centrals.length / 2, 8);
  end.writeUInt16LE(centrals.length / 2, 10);
  end.writeUInt32LE(directoryBytes.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directoryBytes, end]);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  writeFileSync(ZIP, zipDirectory(STAGED));
  console.log(`package-dry-run: ${relative(root, ZIP)}:`);
  for (const path of files(STAGED)) console.log(`  ${relative(STAGED, path).split(sep).join('/')}`);
}
