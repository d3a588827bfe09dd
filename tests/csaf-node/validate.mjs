// Validates a CSAF 2.0 document with the BSI validator: the OASIS strict schema and every mandatory test.
// Usage: node validate.mjs FILE. Prints each failing test with its errors; exit code 0 only when all pass,
// 1 when a test fails, 2 when the file cannot be read or parsed.
import { readFile } from 'node:fs/promises'
import validateStrict from '@secvisogram/csaf-validator-lib/validateStrict.js'
import { csaf_2_0_strict } from '@secvisogram/csaf-validator-lib/schemaTests.js'
import * as mandatoryTests from '@secvisogram/csaf-validator-lib/mandatoryTests.js'

const file = process.argv[2]
if (!file) {
  console.error('usage: node validate.mjs FILE')
  process.exit(2)
}
let doc
try {
  doc = JSON.parse(await readFile(file, 'utf8'))
} catch (e) {
  console.error(`${file}: ${e.message}`)
  process.exit(2)
}
const tests = [csaf_2_0_strict, ...Object.values(mandatoryTests)]
const result = await validateStrict(tests, doc)
const failing = result.tests.filter((t) => !t.isValid || t.errors.length > 0)
for (const t of failing) {
  console.log(`FAIL ${t.name}`)
  for (const e of t.errors) console.log(`  ${e.instancePath || '/'}: ${e.message}`)
}
if (failing.length > 0 || !result.isValid) {
  console.log(`${file}: ${failing.length} of ${tests.length} tests failed`)
  process.exit(1)
}
console.log(`${file}: valid CSAF 2.0 (strict schema and ${tests.length - 1} mandatory tests)`)
