// llamas-server through the official openai client and plain HTTP, on loopback only.
// Environment: LLAMAS_SERVER (the binary), LLAMAS_TEST_DATA (../shared), LOAD_CLIENTS (64).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import OpenAI from 'openai';

const BIN = process.env.LLAMAS_SERVER;
const DATA = process.env.LLAMAS_TEST_DATA;
const LOAD_CLIENTS = Number(process.env.LOAD_CLIENTS || 64);
const KEY = 'sk-llamas-test';

// Starts a server on a free loopback port; resolves with {proc, base, pid}.
function startServer(model, extra = []) {
  return new Promise((resolve, reject) => {
    const proc = spawn(BIN, ['-m', `${DATA}/models/${model}`, '--port', '0', '--threads', '2', ...extra],
                       { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    const timer = setTimeout(() => reject(new Error(`server did not start: ${out}`)), 60000);
    proc.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/on http:\/\/127\.0\.0\.1:(\d+)/);
      if (m) { clearTimeout(timer); resolve({ proc, base: `http://127.0.0.1:${m[1]}`, pid: proc.pid }); }
    });
    proc.on('exit', (code) => { clearTimeout(timer); reject(new Error(`server exited with ${code}: ${out}`)); });
  });
}

function stopServer(s) {
  return new Promise((resolve) => {
    if (!s || s.proc.exitCode !== null) return resolve(null);
    s.proc.removeAllListeners('exit');
    s.proc.on('exit', (code, signal) => resolve({ code, signal }));
    s.proc.kill('SIGTERM');
  });
}

function rssKiB(pid) {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/);
  return Number(m[1]);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let chat;    // kjv-tiny, --parallel 8, with an API key
let client;
const MODEL = 'kjv-tiny-Q8_0';
const messages = [{ role: 'user', content: 'And God said' }];

before(async () => {
  chat = await startServer('kjv-tiny-Q8_0.gguf', ['--parallel', '8', '--ctx', '2048', '--api-key', KEY, '--timeout', '3']);
  client = new OpenAI({ baseURL: `${chat.base}/v1`, apiKey: KEY, maxRetries: 0, timeout: 120000 });
});

after(async () => {
  const r = await stopServer(chat);
  assert.deepEqual(r, { code: 0, signal: null }, 'the server exits cleanly on SIGTERM');
});

test('models and health', async () => {
  const list = await client.models.list();
  assert.equal(list.data.length, 1);
  assert.equal(list.data[0].id, MODEL);
  const h = await (await fetch(`${chat.base}/health`)).json();
  assert.equal(h.status, 'ok');
});

test('a chat completion, and the same streamed: the deltas add up to the answer', async () => {
  const req = { model: MODEL, messages, temperature: 0, max_tokens: 32 };
  const full = await client.chat.completions.create(req);
  const text = full.choices[0].message.content;
  assert.equal(full.choices[0].message.role, 'assistant');
  assert.ok(text.length > 0, 'some text');
  assert.ok(['stop', 'length'].includes(full.choices[0].finish_reason));
  const u = full.usage;
  assert.ok(u.prompt_tokens > 3 && u.completion_tokens > 0 && u.completion_tokens <= 32);
  assert.equal(u.total_tokens, u.prompt_tokens + u.completion_tokens);

  const stream = await client.chat.completions.create({ ...req, stream: true, stream_options: { include_usage: true } });
  let streamed = '', finish = null, usage = null, chunks = 0;
  for await (const chunk of stream) {
    chunks++;
    if (chunk.usage) usage = chunk.usage;
    const c = chunk.choices[0];
    if (c?.delta?.content) streamed += c.delta.content;
    if (c?.finish_reason) finish = c.finish_reason;
  }
  assert.equal(streamed, text, 'streamed deltas equal the non-streamed greedy answer');
  assert.equal(finish, full.choices[0].finish_reason);
  assert.ok(chunks > 2);
  assert.deepEqual(usage.completion_tokens, u.completion_tokens);
});

test('completions, stop strings and determinism with a seed', async () => {
  const a = await client.completions.create({ model: MODEL, prompt: 'And God said', max_tokens: 24, temperature: 0 });
  const b = await client.completions.create({ model: MODEL, prompt: 'And God said', max_tokens: 24, temperature: 0 });
  assert.equal(a.choices[0].text, b.choices[0].text);
  // The answer cut at a stop string taken from it: the text before it, finish "stop".
  const full = a.choices[0].text;
  const cut = full.indexOf(' ', 4);
  assert.ok(cut > 0, `a space in '${full}'`);
  const stop = full.slice(cut, cut + 3);
  const s = await client.completions.create({ model: MODEL, prompt: 'And God said', max_tokens: 24, temperature: 0, stop: [stop] });
  assert.equal(s.choices[0].text, full.slice(0, full.indexOf(stop)));
  assert.equal(s.choices[0].finish_reason, 'stop');
  const x = await client.completions.create({ model: MODEL, prompt: 'And', max_tokens: 16, temperature: 1, seed: 7 });
  const y = await client.completions.create({ model: MODEL, prompt: 'And', max_tokens: 16, temperature: 1, seed: 7 });
  assert.equal(x.choices[0].text, y.choices[0].text, 'same seed, same sample');
});

test('logprobs: each token with its log-probability and alternatives', async () => {
  const r = await client.chat.completions.create({ model: MODEL, messages, temperature: 0, max_tokens: 12, logprobs: true, top_logprobs: 3 });
  const lp = r.choices[0].logprobs.content;
  assert.equal(lp.length, r.usage.completion_tokens);
  assert.equal(lp.map((e) => e.token).join(''), r.choices[0].message.content);
  for (const e of lp) {
    assert.ok(e.logprob <= 0);
    assert.equal(e.top_logprobs.length, 3);
    assert.ok(e.top_logprobs[0].logprob >= e.top_logprobs[1].logprob && e.top_logprobs[1].logprob >= e.top_logprobs[2].logprob);
    assert.equal(e.top_logprobs[0].token, e.token, 'greedy picks the most likely token');
    assert.ok(Math.abs(e.top_logprobs[0].logprob - e.logprob) < 1e-6);
  }
  const stream = await client.chat.completions.create({ model: MODEL, messages, temperature: 0, max_tokens: 12, logprobs: true, stream: true });
  const streamed = [];
  for await (const chunk of stream) streamed.push(...(chunk.choices[0]?.logprobs?.content ?? []));
  assert.deepEqual(streamed.map((e) => e.logprob), lp.map((e) => e.logprob));
  const legacy = await client.completions.create({ model: MODEL, prompt: 'And God said', temperature: 0, max_tokens: 6, logprobs: 2 });
  const l = legacy.choices[0].logprobs;
  assert.equal(l.tokens.join(''), legacy.choices[0].text);
  assert.equal(l.token_logprobs.length, l.tokens.length);
  assert.equal(Object.keys(l.top_logprobs[0]).length, 2);
  await assert.rejects(client.chat.completions.create({ model: MODEL, messages, logprobs: true, top_logprobs: 99 }), (e) => e.status === 400);
});

test('response_format: every sampled reply parses as JSON of the schema', async () => {
  const schema = { type: 'object', properties: { verse: { type: 'string', maxLength: 24 }, chapter: { type: 'integer', minimum: 1, maximum: 50 } },
                   required: ['verse', 'chapter'], additionalProperties: false };
  for (let seed = 1; seed <= 8; seed++) {
    const r = await client.chat.completions.create({ model: MODEL, messages, temperature: 1, seed, max_tokens: 400,
      response_format: { type: 'json_schema', json_schema: { name: 'verse', schema } } });
    const v = JSON.parse(r.choices[0].message.content);
    assert.equal(typeof v.verse, 'string');
    assert.ok(Number.isInteger(v.chapter) && v.chapter >= 1 && v.chapter <= 50, `chapter ${v.chapter}`);
    assert.deepEqual(Object.keys(v).sort(), ['chapter', 'verse']);
  }
  const o = await client.chat.completions.create({ model: MODEL, messages, temperature: 1, seed: 3, max_tokens: 400,
                                                  response_format: { type: 'json_object' } });
  assert.equal(typeof JSON.parse(o.choices[0].message.content), 'object');
  await assert.rejects(client.chat.completions.create({ model: MODEL, messages,
    response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'frobnicate' } } } }), (e) => e.status === 400);
});

test('tools: a required call comes back as tool_calls, streamed or not', async () => {
  const tools = [{ type: 'function', function: { name: 'get_weather', description: 'Weather in a city',
    parameters: { type: 'object', properties: { city: { type: 'string', maxLength: 16 }, days: { type: 'integer', minimum: 1, maximum: 7 } },
                  required: ['city', 'days'] } } }];
  const ask = [{ role: 'user', content: 'What is the weather in Paris?' }];
  for (let seed = 1; seed <= 4; seed++) {
    const r = await client.chat.completions.create({ model: MODEL, messages: ask, tools, tool_choice: 'required', temperature: 1, seed, max_tokens: 512 });
    const ch = r.choices[0];
    assert.equal(ch.finish_reason, 'tool_calls');
    assert.equal(ch.message.tool_calls.length, 1);
    const call = ch.message.tool_calls[0];
    assert.equal(call.type, 'function');
    assert.equal(call.function.name, 'get_weather');
    const args = JSON.parse(call.function.arguments);
    assert.equal(typeof args.city, 'string');
    assert.ok(Number.isInteger(args.days));
  }
  const stream = await client.chat.completions.create({ model: MODEL, messages: ask, tools, tool_choice: 'required', temperature: 0, max_tokens: 512, stream: true });
  let name = '', argText = '', finish = null;
  for await (const chunk of stream) {
    const c = chunk.choices[0];
    for (const tc of c?.delta?.tool_calls ?? []) { name += tc.function?.name ?? ''; argText += tc.function?.arguments ?? ''; }
    if (c?.finish_reason) finish = c.finish_reason;
  }
  assert.equal(finish, 'tool_calls');
  assert.equal(name, 'get_weather');
  assert.equal(typeof JSON.parse(argText).city, 'string');
  // The call and its result go back into the conversation, and the model answers.
  const r = await client.chat.completions.create({ model: MODEL, temperature: 0, max_tokens: 16, tools, messages: [...ask,
    { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris","days":1}' } }] },
    { role: 'tool', tool_call_id: 'call_1', content: 'Sunny' }] });
  assert.ok(r.choices[0].finish_reason);
});

test('a shared system prompt is reused from the cache, not recomputed', async () => {
  const system = { role: 'system', content: 'In the beginning God created the heaven and the earth. '.repeat(6) };
  const a = await client.chat.completions.create({ model: MODEL, messages: [system, { role: 'user', content: 'And God said' }], max_tokens: 4, temperature: 0 });
  const b = await client.chat.completions.create({ model: MODEL, messages: [system, { role: 'user', content: 'Let there be light' }], max_tokens: 4, temperature: 0 });
  assert.ok(a.usage.prompt_tokens_details.cached_tokens < b.usage.prompt_tokens_details.cached_tokens - 40, 'the first one computes the system prompt');
  const cached = b.usage.prompt_tokens_details.cached_tokens;
  assert.ok(cached > 60 && cached < b.usage.prompt_tokens, `${cached} of ${b.usage.prompt_tokens} prompt tokens came from the cache`);
});

test('errors are OpenAI-style 4xx answers', async () => {
  const bad = new OpenAI({ baseURL: `${chat.base}/v1`, apiKey: 'wrong', maxRetries: 0 });
  await assert.rejects(bad.chat.completions.create({ model: MODEL, messages }), (e) => e.status === 401);
  await assert.rejects(client.chat.completions.create({ model: 'gpt-4o', messages }),
                       (e) => e.status === 404 && e.code === 'model_not_found');
  await assert.rejects(client.chat.completions.create({ model: MODEL, messages, max_tokens: 1e9 }),
                       (e) => e.status === 400 && e.code === 'context_length_exceeded');
  await assert.rejects(client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'And '.repeat(6000) }] }),
                       (e) => e.status === 400 && e.code === 'context_length_exceeded');
  await assert.rejects(client.chat.completions.create({ model: MODEL, messages, temperature: 'hot' }), (e) => e.status === 400);
  await assert.rejects(client.chat.completions.create({ model: MODEL, messages: [] }), (e) => e.status === 400);
  await assert.rejects(client.embeddings.create({ model: MODEL, input: 'x' }), (e) => e.status === 400);
  const headers = { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' };
  let r = await fetch(`${chat.base}/v1/chat/completions`, { method: 'POST', headers, body: '{"messages": [' });
  assert.equal(r.status, 400);
  assert.equal((await r.json()).error.code, 'invalid_json');
  r = await fetch(`${chat.base}/v1/chat/completions`, { method: 'POST', headers, body: JSON.stringify({ messages, pad: 'x'.repeat(2 << 20) }) });
  assert.equal(r.status, 413);
  r = await fetch(`${chat.base}/v1/nothing`, { headers });
  assert.equal(r.status, 404);
  assert.ok((await r.json()).error);
});

test('a client that disconnects frees its slot at once', async () => {
  const ac = new AbortController();
  const stream = await client.chat.completions.create(
    { model: MODEL, messages, max_tokens: 400, temperature: 1, stream: true }, { signal: ac.signal });
  let n = 0;
  try {
    for await (const chunk of stream) { if (++n === 3) ac.abort(); }
  } catch (e) { /* the abort */ }
  let busy = -1;
  for (let i = 0; i < 40 && busy !== 0; i++) {
    await sleep(100);
    busy = (await (await fetch(`${chat.base}/health`)).json()).slots_busy;
  }
  assert.equal(busy, 0, 'the slot is free again');
});

test('a slow-loris client is dropped after the timeout; others are served meanwhile', async () => {
  const port = Number(new URL(chat.base).port);
  const t0 = Date.now();
  const closed = new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1', () => {
      sock.write('POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"pro');
    });
    sock.on('data', () => {});
    sock.on('close', () => resolve(Date.now() - t0));
    sock.on('error', () => {});
  });
  const r = await client.completions.create({ model: MODEL, prompt: 'And', max_tokens: 4, temperature: 0 });
  assert.ok(r.choices[0].text.length > 0, 'served while the slow client hangs');
  const ms = await closed;
  assert.ok(ms >= 1500 && ms < 15000, `dropped after ${ms} ms`);
});

test(`load: ${LOAD_CLIENTS} concurrent streaming clients on 8 slots, all answered, RSS flat`, async () => {
  const one = async (i) => {
    const stream = await client.chat.completions.create({
      model: MODEL, messages: [{ role: 'system', content: 'Thou art a scribe.' }, { role: 'user', content: `Verse ${i % 5}` }],
      max_tokens: 24, temperature: 0.7, seed: i, stream: true, stream_options: { include_usage: true } });
    let text = '', finish = null, usage = null;
    for await (const c of stream) {
      if (c.usage) usage = c.usage;
      if (c.choices[0]?.delta?.content) text += c.choices[0].delta.content;
      if (c.choices[0]?.finish_reason) finish = c.choices[0].finish_reason;
    }
    assert.ok(finish === 'stop' || finish === 'length', `request ${i} finished (${finish})`);
    assert.ok(usage && usage.completion_tokens > 0 && usage.completion_tokens <= 24, `request ${i} usage`);
    return text;
  };
  const run = () => Promise.all(Array.from({ length: LOAD_CLIENTS }, (_, i) => one(i)));
  await run();  // warm: every slot has run, caches are touched
  const before = rssKiB(chat.pid);
  const t0 = Date.now();
  const texts = await run();
  const seconds = (Date.now() - t0) / 1000;
  const grew = rssKiB(chat.pid) - before;
  assert.equal(texts.length, LOAD_CLIENTS);
  assert.ok(grew < 16 * 1024, `RSS grew by ${grew} KiB`);
  console.log(`# ${LOAD_CLIENTS} streamed requests in ${seconds.toFixed(1)} s; RSS ${before} KiB, then +${grew} KiB`);
  const h = await (await fetch(`${chat.base}/health`)).json();
  assert.equal(h.slots_busy, 0);
  assert.equal(h.queued, 0);
});

test('embeddings from an embedding model', async () => {
  const s = await startServer('bert-F16.gguf');
  try {
    const c = new OpenAI({ baseURL: `${s.base}/v1`, apiKey: 'none', maxRetries: 0 });
    const r = await c.embeddings.create({ model: 'bert-F16', input: ['In the beginning', 'God created'] });
    assert.equal(r.data.length, 2);
    const v = r.data[0].embedding;
    assert.ok(v.length > 8);
    const norm = Math.sqrt(v.reduce((a, x) => a + x * x, 0));
    assert.ok(Math.abs(norm - 1) < 1e-4, `normalized (${norm})`);
    assert.ok(r.usage.prompt_tokens > 4);
    const again = await c.embeddings.create({ model: 'bert-F16', input: 'In the beginning' });
    assert.deepEqual(again.data[0].embedding, v);
    await assert.rejects(c.chat.completions.create({ model: 'bert-F16', messages }), (e) => e.status === 400);
  } finally {
    await stopServer(s);
  }
});
