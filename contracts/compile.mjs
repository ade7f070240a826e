// Compile the contracts with the pinned npm `solc` and write their artifacts where the Python
// package ships them (src/compliance_shield/contracts/<Name>.json).
//
//   node contracts/compile.mjs           write the artifacts
//   node contracts/compile.mjs --check   recompile and exit 1 when a committed artifact differs
//
// Settings are fixed here so that a rebuild is byte-for-byte reproducible.
import { readFileSync, readdirSync, writeFileSync, existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const solc = require('solc')

const here = dirname(fileURLToPath(import.meta.url))
const root = resolve(here, '..')
const outDir = join(root, 'src', 'compliance_shield', 'contracts')
const DEPLOYABLE = ['ComplianceOracle', 'SecurityToken']
const SETTINGS = {
  optimizer: { enabled: true, runs: 200 },
  evmVersion: 'cancun',
  viaIR: false,
  metadata: { bytecodeHash: 'ipfs' },
  outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] } }
}

function sources () {
  const files = readdirSync(here).filter((f) => f.endsWith('.sol')).sort()
  return Object.fromEntries(files.map((f) => [f, { content: readFileSync(join(here, f), 'utf8') }]))
}

function findImport (path) {
  const candidate = join(root, 'node_modules', path)
  if (existsSync(candidate)) return { contents: readFileSync(candidate, 'utf8') }
  return { error: `not found: ${path}` }
}

function compile () {
  const input = { language: 'Solidity', sources: sources(), settings: SETTINGS }
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImport }))
  const errors = (output.errors || []).filter((e) => e.severity === 'error')
  for (const e of output.errors || []) console.error(e.formattedMessage)
  if (errors.length) process.exit(2)
  const artifacts = {}
  for (const [file, contracts] of Object.entries(output.contracts)) {
    for (const [name, c] of Object.entries(contracts)) {
      if (!DEPLOYABLE.includes(name)) continue
      artifacts[name] = {
        contractName: name,
        sourceName: `contracts/${file}`,
        compiler: { name: 'solc', version: solc.version(), settings: { ...SETTINGS, outputSelection: undefined } },
        abi: c.abi,
        bytecode: '0x' + c.evm.bytecode.object,
        deployedBytecode: '0x' + c.evm.deployedBytecode.object
      }
    }
  }
  return artifacts
}

const check = process.argv.includes('--check')
let stale = 0
for (const [name, artifact] of Object.entries(compile())) {
  const path = join(outDir, `${name}.json`)
  const text = JSON.stringify(artifact, null, 2) + '\n'
  if (check) {
    const committed = existsSync(path) ? readFileSync(path, 'utf8') : ''
    if (committed !== text) {
      console.error(`stale artifact: ${path} differs from a fresh compile of ${artifact.sourceName}`)
      stale++
    }
  } else {
    writeFileSync(path, text)
    console.log(`wrote ${path}`)
  }
}
if (check && stale) process.exit(1)
if (check) console.log('artifacts match a fresh compile')
