// A peer of the HTTP benchmark (tools/bench/http): a hello-world server on Node's http module.
// GET (or HEAD) "/" answers "Hello, World!" as text/plain; anything else is a 404 or 405.
// Node's defaults otherwise (keep-alive on).
//
// Usage: node tests/bench/http/node_hello.js [--host 127.0.0.1] [--port 0]
// The first line on stdout is the bound port. SIGTERM or SIGINT ends it (default action).
'use strict';

const http = require('http');

function option(name, fallback) {
    const i = process.argv.indexOf(name);
    return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const host = option('--host', '127.0.0.1');
const port = Number(option('--port', '0'));
const body = Buffer.from('Hello, World!');

const server = http.createServer((req, res) => {
    if (req.url !== '/') {
        res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end('404: Not Found');
        return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { 'Content-Type': 'text/plain; charset=utf-8', 'Allow': 'GET, HEAD' });
        res.end('405: Method Not Allowed');
        return;
    }
    res.writeHead(200, {
        'Content-Type': 'text/plain; charset=utf-8',
        'Content-Length': body.length,
    });
    res.end(req.method === 'HEAD' ? undefined : body);
});

server.listen(port, host, 1024, () => {
    // Writes to a pipe are synchronous on Linux, so the port is out before any request.
    process.stdout.write(`${server.address().port}\n`);
});
