// Log N lines through pino with pino-loki, the Loki client library, to a
// server's Loki push API; print one JSON line {"pushed":N} once every push
// is answered. Usage: node loki_client.js BASE_URL N [TOKEN]
'use strict';
const pino = require('pino');
const { pinoLoki } = require('pino-loki');

const [base, n, token] = process.argv.slice(2);
const failures = [];
const origError = console.error;
// pino-loki reports a refused push on the console: count those as failures.
console.error = (...args) => { failures.push(args.join(' ')); origError(...args); };

const transport = pinoLoki({
  host: base,
  batching: false,
  labels: { application: 'checkout', type: 'app' },
  headers: token ? { Authorization: `Bearer ${token}` } : {},
});
const logger = pino({ base: { hostname: 'web-1' } }, transport);

(async () => {
  for (let i = 0; i < Number(n); i++)
    logger.info({ order: i, service: 'payments' }, `order ${i} placed`);
  // Without batching every log is its own push: wait until all are answered.
  await new Promise(r => setTimeout(r, 1500));
  if (failures.length) {
    console.log(JSON.stringify({ pushed: 0, failures }));
    process.exit(1);
  }
  console.log(JSON.stringify({ pushed: Number(n) }));
})();
