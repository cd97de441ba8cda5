// Builds the web app into dist/: the TypeScript in src/ compiled by tsc (type-checked, strict),
// then the static files of public/ copied beside it. dist/ is what a deploy hosts (README).
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, "dist");
rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });
const tsc = spawnSync(process.execPath, [join(here, "node_modules", "typescript", "bin", "tsc"), "-p", join(here, "tsconfig.json")], {
  stdio: "inherit",
});
if (tsc.status !== 0) {
  console.error("web: tsc failed (see above); run `npm --prefix web ci` if node_modules is missing");
  process.exit(tsc.status ?? 1);
}
cpSync(join(here, "public"), dist, { recursive: true });
console.error(`web: built ${dist}`);
