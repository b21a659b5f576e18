// Compiles contracts/*.sol with the pinned solc-js (package.json) and writes
// contracts/out/<Contract>.json = {abi, bytecode, deployedBytecode}: the committed artifacts the
// Rust tests deploy. Deterministic (sorted keys, no metadata hash), so scripts/evm-tools.sh can
// check that the committed files match the sources with `git diff --exit-code contracts/out`.
// Fails on any compiler error or warning.
'use strict';
const fs = require('fs');
const path = require('path');
const solc = require('solc');

const EXPECTED_VERSION = '0.8.30';
const dir = __dirname;
const outDir = path.join(dir, 'out');

if (!solc.version().startsWith(EXPECTED_VERSION + '+')) {
  console.error(`error: solc ${solc.version()}, expected ${EXPECTED_VERSION} (run scripts/evm-tools.sh)`);
  process.exit(1);
}

const sources = {};
for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.sol')).sort()) {
  sources[file] = { content: fs.readFileSync(path.join(dir, file), 'utf8') };
}

const input = {
  language: 'Solidity',
  sources,
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: 'prague',
    metadata: { bytecodeHash: 'none', appendCBOR: false },
    outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] } },
  },
};

// every source is in `sources`; an import of anything else is refused
function findImports(importPath) {
  return { error: `import not found: ${importPath} (only contracts/*.sol are compiled)` };
}

const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
let failed = false;
for (const message of output.errors || []) {
  console.error(message.formattedMessage || message.message);
  if (message.severity === 'error' || message.severity === 'warning') failed = true;
}
if (failed) {
  console.error('error: the contracts do not compile cleanly (errors and warnings both fail)');
  process.exit(1);
}

function sorted(value) {
  if (Array.isArray(value)) return value.map(sorted);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, sorted(value[k])]));
  }
  return value;
}

fs.mkdirSync(outDir, { recursive: true });
const written = [];
for (const file of Object.keys(output.contracts).sort()) {
  for (const name of Object.keys(output.contracts[file]).sort()) {
    const c = output.contracts[file][name];
    const artifact = {
      abi: sorted(c.abi),
      bytecode: '0x' + c.evm.bytecode.object,
      deployedBytecode: '0x' + c.evm.deployedBytecode.object,
    };
    fs.writeFileSync(path.join(outDir, `${name}.json`), JSON.stringify(artifact, null, 2) + '\n');
    written.push(name);
  }
}
// an artifact without a source (a contract renamed or removed) is stale
for (const file of fs.readdirSync(outDir)) {
  if (file.endsWith('.json') && !written.includes(file.slice(0, -5))) {
    fs.unlinkSync(path.join(outDir, file));
  }
}
console.log(`compiled with solc ${solc.version()}: ${written.join(', ')}`);
