// A benchmark, not a test: N concurrent clients, each streaming R text completions from an
// OpenAI-compatible server; prints time to first token (median, p90) and the aggregate
// generation speed (completion tokens of all requests / wall time).
//   node bench.mjs BASE_URL CLIENTS [REQUESTS_PER_CLIENT=2] [MAX_TOKENS=64] [PROMPT_WORDS=100]
import OpenAI from 'openai';
import http from 'node:http';

const [base, clientsArg, perArg = '2', maxArg = '64', wordsArg = '100'] = process.argv.slice(2);
const clients = Number(clientsArg), per = Number(perArg), maxTokens = Number(maxArg);
// A new connection per request: servers differ in when they close kept-alive connections.
const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'none', maxRetries: 0, timeout: 600000,
                            httpAgent: new http.Agent({ keepAlive: false }) });
const models = await client.models.list();
const model = models.data[0].id;
const words = 'and the earth was without form and void and darkness was upon the face of the deep '.split(' ');

const ttft = [];
let tokens = 0, failed = 0;
async function one(i, k) {
  const prompt = Array.from({ length: Number(wordsArg) }, (_, j) => words[(i * 7 + k * 3 + j) % words.length]).join(' ');
  const t0 = performance.now();
  let first = null, usage = null;
  const stream = await client.completions.create({ model, prompt, max_tokens: maxTokens, temperature: 0.8, seed: i * 100 + k,
                                                   stream: true, stream_options: { include_usage: true } });
  for await (const c of stream) {
    if (first === null && c.choices?.[0]?.text) first = performance.now() - t0;
    if (c.usage) usage = c.usage;
  }
  if (first !== null) ttft.push(first);
  tokens += usage ? usage.completion_tokens : 0;
}
const t0 = performance.now();
await Promise.all(Array.from({ length: clients }, async (_, i) => {
  for (let k = 0; k < per; k++) {
    try { await one(i, k); } catch (e) { failed++; console.error(`request ${i}/${k} failed: ${e.message}`); }
  }
}));
const wall = (performance.now() - t0) / 1000;
ttft.sort((a, b) => a - b);
const q = (p) => ttft[Math.min(ttft.length - 1, Math.floor(p * ttft.length))];
console.log(`clients ${clients}: ${clients * per} requests, ${tokens} tokens in ${wall.toFixed(1)} s = ` +
            `${(tokens / wall).toFixed(1)} t/s aggregate; TTFT median ${(q(0.5) / 1000).toFixed(2)} s, p90 ${(q(0.9) / 1000).toFixed(2)} s` + (failed ? `; ${failed} failed` : ''));
