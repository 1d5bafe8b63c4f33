// Sorts npm versions with node-semver (what npm follows): reads candidates,
// prints `<TAB>version` or `=TAB>version` per line, in order.
const semver = require("semver");
const fs = require("fs");
const vs = fs.readFileSync(process.argv[2], "utf8").split("\n")
  .filter((v) => v !== "" && semver.valid(v) !== null);
vs.sort((a, b) => semver.compare(a, b) || (a < b ? -1 : a > b ? 1 : 0));
let prev = null;
for (const v of vs) {
  console.log((prev !== null && semver.compare(prev, v) === 0 ? "=" : "<") + "\t" + v);
  prev = v;
}
