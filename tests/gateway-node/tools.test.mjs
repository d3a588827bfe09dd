// The official `openai` npm client's stream helper against a screened Embargo gateway, on parallel tool calls whose pieces
// the gateway holds back and releases in steps. The helper takes a new call's first chunk as the end of the call before (its
// `tool_calls.function.arguments.done` event, and JSON.parse of a strict tool's arguments there), so the gateway must keep
// the calls in the upstream's order. Started by tests/Embargo.Gateway.Tests/NodeClientTests.cs with the coordinates below.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const baseURL = process.env.GATEWAY_URL;
const key = process.env.GATEWAY_KEY;
const expected = JSON.parse(process.env.EXPECTED_ARGUMENTS ?? 'null');
if (!baseURL || !key || !expected) throw new Error('GATEWAY_URL, GATEWAY_KEY and EXPECTED_ARGUMENTS must be set (NodeClientTests sets them)');
const client = new OpenAI({ baseURL, apiKey: key, maxRetries: 0 });

const tool = (name, properties) => ({
  type: 'function',
  function: {
    name, strict: true,
    parameters: { type: 'object', properties, required: Object.keys(properties), additionalProperties: false },
  },
});

test('the stream helper reads each parallel tool call whole, in order, with its arguments parsed when it ends', async () => {
  const stream = client.chat.completions.stream({
    model: 'camelid-7b',
    messages: [{ role: 'user', content: 'Weather in Lisbon, and a ferry to Cacilhas?' }],
    tools: [
      tool('lookup_weather', { city: { type: 'string' }, days: { type: 'integer' } }),
      tool('lookup_ferries', { from: { type: 'string' }, to: { type: 'string' } }),
    ],
  });
  const done = [];
  stream.on('tool_calls.function.arguments.done', (e) => done.push({ index: e.index, name: e.name, arguments: e.arguments, parsed: e.parsed_arguments }));
  const completion = await stream.finalChatCompletion();

  const calls = completion.choices[0].message.tool_calls;
  assert.deepEqual(calls.map((c) => c.function.arguments), expected);
  assert.deepEqual(done.map((d) => d.index), [0, 1]);
  assert.deepEqual(done.map((d) => d.arguments), expected);
  assert.deepEqual(done.map((d) => d.parsed), expected.map((a) => JSON.parse(a)));
  assert.equal(completion.choices[0].finish_reason, 'tool_calls');
});
