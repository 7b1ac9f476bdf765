// A service built on createServer: fffbert's routes (/embed, /classify, /fill-mask, /health, /ready, /metrics)
// plus its own POST /similarity { a, b } -> { cosine }, with batching, and a graceful stop on SIGTERM.
//
//   node examples/similarity-service.mjs ./UltraFastBERT-1x11-long [port]
//   curl -s localhost:8080/similarity -H 'content-type: application/json' -d '{"a":"a cat sat","b":"a cat was sitting"}'
import { createServer, loadModel } from 'fffbert';

const [dir, port = '8080'] = process.argv.slice(2);
if (!dir) {
  console.error('usage: node examples/similarity-service.mjs <model dir> [port]');
  process.exit(2);
}

const model = await loadModel(dir, { batching: { maxBatchSize: 32, maxWaitMs: 5 } });
const app = createServer(model, { maxTexts: 16 });

app.post(
  '/similarity',
  {
    schema: {
      body: {
        type: 'object',
        required: ['a', 'b'],
        additionalProperties: false,
        properties: { a: { type: 'string', maxLength: 5000 }, b: { type: 'string', maxLength: 5000 } },
      },
    },
  },
  async (request) => {
    // Two concurrent calls: the batcher runs them (and other requests' texts) in one forward.
    const [[a], [b]] = await Promise.all([model.embed(request.body.a), model.embed(request.body.b)]);
    let dot = 0;
    for (let i = 0; i < a.length; i++) dot += a[i] * b[i]; // the embeddings are L2-normalised
    return { cosine: dot };
  },
);

const address = await app.listen({ host: '127.0.0.1', port: Number(port) });
console.error(`similarity service on ${address}`);

process.once('SIGTERM', async () => {
  await app.fffbert.drain(); // /ready turns false, requests in flight finish
  model.dispose();
});
