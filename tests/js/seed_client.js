// The seed document's JavaScript clients, run unchanged against the server
// with the `ws` package standing in for the browser's WebSocket.
//
//   node seed_client.js basic URL      the seed's "Connect to WebSocket" code
//   node seed_client.js reconnect URL  the seed's LogStreamClient class
//
// Besides the seed's own console output, every step is reported on stdout
// as one line "@@ <json>" for the driving test (tests/blackbox/
// test_seed_clients.py): {"open":true}, {"event":{...}}, {"close":code}.
'use strict';

const WebSocket = require('ws');

function report(obj) {
  process.stdout.write('@@ ' + JSON.stringify(obj) + '\n');
}

// The seed's client, as written there, with the URL as a parameter and a
// report line added to each handler.
function basic(url) {
  const ws = new WebSocket(url);

  ws.onopen = () => {
    console.log('Connected to log stream');
    report({ open: true });
  };

  ws.onmessage = (event) => {
    const logEvent = JSON.parse(event.data);
    console.log(`[${logEvent.type}] ${logEvent.message}`);
    report({ event: logEvent });
  };

  ws.onerror = (error) => {
    console.error('WebSocket error:', error);
  };

  ws.onclose = (event) => {
    console.log('Disconnected from log stream');
    report({ close: event.code });
    process.exit(0);
  };
}

// The seed's reconnecting client, verbatim.
class LogStreamClient {
  constructor(url, onMessage) {
    this.url = url;
    this.onMessage = onMessage;
    this.reconnectDelay = 1000;
    this.maxReconnectDelay = 30000;
    this.connect();
  }

  connect() {
    this.ws = new WebSocket(this.url);

    this.ws.onopen = () => {
      console.log('Connected');
      this.reconnectDelay = 1000; // Reset delay
    };

    this.ws.onmessage = (event) => {
      const logEvent = JSON.parse(event.data);
      this.onMessage(logEvent);
    };

    this.ws.onclose = () => {
      console.log('Disconnected. Reconnecting...');
      setTimeout(() => this.connect(), this.reconnectDelay);

      // Exponential backoff
      this.reconnectDelay = Math.min(
        this.reconnectDelay * 2,
        this.maxReconnectDelay
      );
    };

    this.ws.onerror = (error) => {
      console.error('WebSocket error:', error);
    };
  }

  close() {
    this.ws.close();
  }
}

// Observe the seed's class without changing it: wrap its handlers.
class ObservedLogStreamClient extends LogStreamClient {
  connect() {
    super.connect();
    const { onopen, onclose } = this.ws;
    this.ws.onopen = (event) => {
      onopen(event);
      report({ open: true });
    };
    this.ws.onclose = (event) => {
      report({ close: event.code });
      onclose(event);
    };
  }
}

function reconnect(url) {
  new ObservedLogStreamClient(url, (log) => {
    console.log(log);
    report({ event: log });
  });
  // The driver ends us by closing stdin.
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
}

const [mode, url] = process.argv.slice(2);
if (mode === 'basic' && url) {
  basic(url);
} else if (mode === 'reconnect' && url) {
  reconnect(url);
} else {
  console.error('usage: node seed_client.js basic|reconnect URL');
  process.exit(2);
}
