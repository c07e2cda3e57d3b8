// aio::http against peers not written here: curl, Python's http.client and aiohttp's client
// talk to our server; our client_session talks to `python3 -m http.server` and to an aiohttp
// server. Loopback only, port 0 everywhere. A peer that is not installed is skipped with a
// warning (tools/setup installs curl and python3-aiohttp, so CI has them). Blocking calls
// (popen, reading a child's pipe) run on the default executor, never on the loop thread.
#include "support.hpp"

#include <aio/http/client.hpp>
#include <aio/http/server.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;  // NOLINT(readability-redundant-declaration): POSIX gives no header

using namespace std::chrono_literals;
using aio::http::application;
using aio::http::client_session;
using aio::http::request;
using aio::http::response;
using aio::test::run_test;

namespace {

const aio::test::test_options real_time{.virtual_time = false};

constexpr const char* curl_path = "/usr/bin/curl";
constexpr const char* python_path = "/usr/bin/python3";

bool have_curl() {
    return ::access(curl_path, X_OK) == 0;
}

bool have_python() {
    return ::access(python_path, X_OK) == 0;
}

// Asked once, before any loop runs (so a blocking std::system is fine here). find_spec
// looks the module up without importing it (importing aiohttp takes half a second).
bool have_aiohttp() {
    static const bool yes =
        have_python() && std::system("/usr/bin/python3 -c 'import importlib.util, sys; "  // NOLINT
                                     "sys.exit(importlib.util.find_spec(\"aiohttp\") is None)' "
                                     ">/dev/null 2>&1") == 0;
    return yes;
}

std::string unique_path(std::string_view what) {
    static std::atomic<int> n{0};
    return "/tmp/aio-interop-" + std::to_string(::getpid()) + "-" + std::to_string(n++) + "-" +
           std::string(what);
}

std::string slurp(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

struct command_result {
    std::string out;  // standard output
    std::string err;  // standard error
    int status = -1;  // exit status, -1 when it did not exit normally
};

// Runs a shell command on the default executor (so the loop keeps serving our server) and
// collects its output. Commands start their peers through bounded() so that a hung peer
// cannot hang the test.
command_result run_command(const std::string& cmd) {
    return aio::to_thread([cmd] {
        command_result r;
        std::string err_file = unique_path("stderr");
        std::string full = cmd + " 2>" + err_file;
        FILE* p = ::popen(full.c_str(), "r");
        if (p == nullptr) {
            r.err = "popen failed";
            return r;
        }
        char buf[4096];
        std::size_t n = 0;
        while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) {
            r.out.append(buf, n);
        }
        int st = ::pclose(p);
        r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        r.err = slurp(err_file);
        ::unlink(err_file.c_str());
        return r;
    });
}

// `program` killed if it runs for more than 5 s.
std::string bounded(std::string_view program) {
    return "/usr/bin/timeout -k 1 5 " + std::string(program);
}

std::string curl() {
    return bounded(curl_path);
}

// A Python script as one shell word (a quoted here-document, so nothing in it is expanded).
std::string python_command(const std::string& script) {
    return bounded(python_path) + " -c \"$(cat <<'EOF'\n" + script + "EOF\n)\"";
}

// A Python server process: started with posix_spawn, its standard output on a pipe whose
// first line tells the port it bound (it binds port 0). Killed and waited for when destroyed,
// on failure too.
class python_server {
public:
    explicit python_server(std::vector<std::string> args)
        : err_file_(unique_path("server-stderr")) {
        args.insert(args.begin(), {python_path, "-u"});
        std::vector<char*> argv;
        for (auto& a : args) {
            argv.push_back(a.data());
        }
        argv.push_back(nullptr);
        int fds[2];
        REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
        posix_spawn_file_actions_t fa;
        ::posix_spawn_file_actions_init(&fa);
        ::posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
        ::posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, err_file_.c_str(),
                                           O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int rc = ::posix_spawn(&pid_, python_path, &fa, nullptr, argv.data(), environ);
        ::posix_spawn_file_actions_destroy(&fa);
        ::close(fds[1]);
        out_ = fds[0];
        if (rc != 0) {
            pid_ = -1;
        }
        REQUIRE(rc == 0);
    }
    python_server(const python_server&) = delete;
    python_server& operator=(const python_server&) = delete;
    ~python_server() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            int st = 0;
            while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
            }
        }
        if (out_ >= 0) {
            ::close(out_);
        }
        ::unlink(err_file_.c_str());
    }

    // The first line the server printed (without the newline), read on the default executor;
    // "" when it printed none within 5 s or exited first.
    std::string first_line() {
        int fd = out_;
        return aio::to_thread([fd] {
            std::string line;
            auto deadline = std::chrono::steady_clock::now() + 5s;
            while (line.find('\n') == std::string::npos) {
                auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now());
                if (left.count() <= 0) {
                    return std::string();
                }
                pollfd p{fd, POLLIN, 0};
                int n = ::poll(&p, 1, static_cast<int>(left.count()));
                if (n < 0 && errno == EINTR) {
                    continue;
                }
                if (n <= 0) {
                    return std::string();
                }
                char c = 0;
                ssize_t got = ::read(fd, &c, 1);
                if (got <= 0) {
                    return std::string();
                }
                line += c;
            }
            line.pop_back();
            return line;
        });
    }

    // What it wrote on standard error so far (for failure messages).
    [[nodiscard]] std::string err() const { return slurp(err_file_); }

private:
    std::string err_file_;
    pid_t pid_ = -1;
    int out_ = -1;
};

std::string base(const aio::http::app_runner& r) {
    return "http://127.0.0.1:" + std::to_string(r.port());
}

std::string base(std::uint16_t port) {
    return "http://127.0.0.1:" + std::to_string(port);
}

// The routes the foreign clients exercise on our server.
void add_routes(application& app) {
    app.add_get("/a", [](request&) { return response::text("A"); });
    app.add_get("/b", [](request&) { return response::text("B"); });
    app.add_get("/hello", [](request&) { return response::text("Hello, World!"); });
    // The client's address: the same on two requests means one connection served both.
    app.add_get("/peer", [](request& req) { return response::text(req.peer()); });
    // What framing the request body came with, and the body.
    app.add_post("/echo", [](request& req) {
        return response::text("te=" + std::string(req.headers().value("Transfer-Encoding")) +
                              ";len=" + std::string(req.headers().value("Content-Length")) +
                              ";body=" + req.text());
    });
    // A chunked response written in five parts.
    app.add_get("/stream", [](request& req) {
        response r;
        r.headers().set("Content-Type", "text/plain");
        r.prepare(req);
        for (int i = 0; i < 5; ++i) {
            r.write("part " + std::to_string(i) + "\n");
            aio::sleep(5ms);
        }
        r.write_eof();
        return r;
    });
}

const std::string streamed = "part 0\npart 1\npart 2\npart 3\npart 4\n";

// Runs `body(runner)` with our server serving add_routes() on a free loopback port.
void with_our_server(const std::function<void(aio::http::app_runner&)>& body) {
    run_test(
        [&] {
            application app;
            add_routes(app);
            aio::http::app_runner runner(app);
            runner.start("127.0.0.1", 0);
            try {
                body(runner);
            } catch (...) {
                runner.cleanup();
                throw;
            }
            runner.cleanup();
        },
        real_time);
}

// The port in the first line a Python server printed: a bare number, or http.server's
// "Serving HTTP on 127.0.0.1 port 41235 (http://127.0.0.1:41235/) ...".
std::uint16_t port_of(const std::string& line) {
    std::string digits = line;
    if (auto at = line.find("port "); at != std::string::npos) {
        digits = line.substr(at + 5);
    }
    try {
        int p = std::stoi(digits);
        return (p > 0 && p < 65536) ? static_cast<std::uint16_t>(p) : 0;
    } catch (const std::exception&) {
        return 0;
    }
}

// A temporary directory with one file, removed at the end.
struct served_directory {
    std::string dir = unique_path("www");
    std::string file_body = "Hello from a file served by http.server\n";
    served_directory() {
        REQUIRE(::mkdir(dir.c_str(), 0700) == 0);
        std::ofstream(dir + "/hello.txt", std::ios::binary) << file_body;
    }
    served_directory(const served_directory&) = delete;
    served_directory& operator=(const served_directory&) = delete;
    ~served_directory() {
        ::unlink((dir + "/hello.txt").c_str());
        ::rmdir(dir.c_str());
    }
};

const char* const aiohttp_server_script = R"PY(
import asyncio
from aiohttp import web

async def hello(request):
    return web.Response(text='Hello from aiohttp')

async def echo(request):
    body = await request.read()
    return web.Response(body=b'echo:' + body)

async def stream(request):
    resp = web.StreamResponse(headers={'Content-Type': 'text/plain'})
    resp.enable_chunked_encoding()
    await resp.prepare(request)
    for i in range(5):
        await resp.write(b'part %d\n' % i)
        await asyncio.sleep(0.005)
    await resp.write_eof()
    return resp

async def redirect(request):
    raise web.HTTPFound('/hello')

async def peer(request):
    host, port = request.transport.get_extra_info('peername')[:2]
    return web.Response(text='%s:%d' % (host, port))

async def main():
    app = web.Application()
    app.add_routes([web.get('/hello', hello), web.post('/echo', echo),
                    web.get('/stream', stream), web.get('/redirect', redirect),
                    web.get('/peer', peer)])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, '127.0.0.1', 0)
    await site.start()
    print(site._server.sockets[0].getsockname()[1], flush=True)
    await asyncio.sleep(30)  # killed by the test long before

asyncio.run(main())
)PY";

}  // namespace

// ---- curl against our server ------------------------------------------------------------

TEST_CASE("curl reuses one keep-alive connection for two URLs on our server", "[http][interop]") {
    if (!have_curl()) {
        WARN("no /usr/bin/curl: skipped");
        return;
    }
    with_our_server([](aio::http::app_runner& runner) {
        auto r = run_command(curl() + " -sv " + base(runner) + "/a " + base(runner) +
                             "/b -w '\\n%{http_code} %{num_connects}\\n'");
        INFO(r.err);
        CHECK(r.status == 0);
        // The second transfer made no new connection.
        CHECK(r.out == "A\n200 1\nB\n200 0\n");
        CHECK(r.err.find("Re-using existing connection") != std::string::npos);
        CHECK(runner.requests_handled() == 2);
    });
}

TEST_CASE("curl POSTs a body to our server and gets it echoed", "[http][interop]") {
    if (!have_curl()) {
        WARN("no /usr/bin/curl: skipped");
        return;
    }
    with_our_server([](aio::http::app_runner& runner) {
        auto r = run_command(curl() + " -s --data-binary 'name=aio&x=1' " + base(runner) +
                             "/echo -w '\\n%{http_code}'");
        INFO(r.err);
        CHECK(r.status == 0);
        CHECK(r.out == "te=;len=12;body=name=aio&x=1\n200");
    });
}

TEST_CASE("curl uploads a chunked body to our server", "[http][interop]") {
    if (!have_curl()) {
        WARN("no /usr/bin/curl: skipped");
        return;
    }
    with_our_server([](aio::http::app_runner& runner) {
        // curl asks for 100 Continue before a chunked body; without an answer it would wait
        // --expect100-timeout (10 s here) before sending it. Bounds that a loaded machine
        // cannot reach by accident, and the 100 Continue itself, tell the two apart.
        auto start = std::chrono::steady_clock::now();
        auto r = run_command("printf 'hello, chunked world' | " + curl() +
                             " -sv --expect100-timeout 10 -H 'Transfer-Encoding: chunked' "
                             "--data-binary @- " +
                             base(runner) + "/echo -w '\\n%{http_code}'");
        auto took = std::chrono::steady_clock::now() - start;
        INFO(r.err);
        CHECK(r.status == 0);
        CHECK(r.out == "te=chunked;len=;body=hello, chunked world\n200");
        CHECK(took < 5s);
    });
}

// RFC 9110 §10.1.1: the server sends 100 Continue before the body.
TEST_CASE("our server answers curl's Expect: 100-continue with 100 Continue", "[http][interop]") {
    if (!have_curl()) {
        WARN("no /usr/bin/curl: skipped");
        return;
    }
    with_our_server([](aio::http::app_runner& runner) {
        // curl sends the body once it got "100 Continue", or after --expect100-timeout
        // without one: RFC 9110 section 10.1.1 wants the server to answer at once.
        auto start = std::chrono::steady_clock::now();
        auto r = run_command(curl() +
                             " -sv --expect100-timeout 10 -H 'Expect: 100-continue' "
                             "--data-binary 'payload' " +
                             base(runner) + "/echo -w '\\n%{http_code}'");
        auto took = std::chrono::steady_clock::now() - start;
        INFO(r.err);
        CHECK(r.status == 0);
        CHECK(r.out == "te=;len=7;body=payload\n200");
        CHECK(r.err.find("< HTTP/1.1 100 Continue") != std::string::npos);
        CHECK(took < 5s);  // not the 10 s curl would wait without the 100 Continue
    });
}

TEST_CASE("curl -I gets our server's headers for a HEAD and no body", "[http][interop]") {
    if (!have_curl()) {
        WARN("no /usr/bin/curl: skipped");
        return;
    }
    with_our_server([](aio::http::app_runner& runner) {
        auto r = run_command(curl() + " -sI " + base(runner) + "/hello");
        INFO(r.err);
        CHECK(r.status == 0);
        CAPTURE(r.out);
        CHECK(r.out.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
        CHECK(r.out.find("\r\nContent-Length: 13\r\n") != std::string::npos);
        CHECK(r.out.find("\r\nContent-Type: text/plain; charset=utf-8\r\n") != std::string::npos);
        // The head ends the output: no body followed it.
        CHECK(r.out.size() >= 4);
        CHECK(r.out.substr(r.out.size() - 4) == "\r\n\r\n");
        CHECK(r.out.find("Hello") == std::string::npos);
    });
}

TEST_CASE("curl gets a 404 from our server for an unknown path", "[http][interop]") {
    if (!have_curl()) {
        WARN("no /usr/bin/curl: skipped");
        return;
    }
    with_our_server([](aio::http::app_runner& runner) {
        auto r = run_command(curl() + " -s " + base(runner) + "/nothing -w '\\n%{http_code}'");
        INFO(r.err);
        CHECK(r.status == 0);
        CHECK(r.out == "404: Not Found\n404");
    });
}

// ---- Python's http.client against our server --------------------------------------------

TEST_CASE("Python's http.client reuses one connection to our server and reads a chunked "
          "response fully",
          "[http][interop]") {
    if (!have_python()) {
        WARN("no /usr/bin/python3: skipped");
        return;
    }
    with_our_server([](aio::http::app_runner& runner) {
        std::string script = "import http.client\n"
                             "c = http.client.HTTPConnection('127.0.0.1', " +
                             std::to_string(runner.port()) +
                             ", timeout=5)\n"
                             "c.request('GET', '/peer'); r = c.getresponse()\n"
                             "p1 = r.read().decode(); sock = c.sock\n"
                             "print(r.status, r.reason, r.version)\n"
                             "c.request('GET', '/peer'); r = c.getresponse()\n"
                             "p2 = r.read().decode()\n"
                             "print('same peer', p1 == p2, 'same socket', c.sock is sock)\n"
                             "c.request('GET', '/stream'); r = c.getresponse()\n"
                             "print(r.status, r.getheader('Transfer-Encoding'))\n"
                             "print(repr(r.read().decode()))\n"
                             "c.request('POST', '/echo', body=iter([b'ab', b'cd']),"
                             " encode_chunked=True)\n"
                             "print(c.getresponse().read().decode())\n"
                             "c.request('POST', '/echo', body=b'xyz')\n"
                             "print(c.getresponse().read().decode())\n"
                             "c.request('GET', '/a'); r = c.getresponse()\n"
                             "print(r.read().decode(), 'same socket', c.sock is sock)\n"
                             "c.close()\n";
        auto r = run_command(python_command(script));
        INFO(r.err);
        CHECK(r.status == 0);
        CHECK(r.out == "200 OK 11\n"
                       "same peer True same socket True\n"
                       "200 chunked\n"
                       "'part 0\\npart 1\\npart 2\\npart 3\\npart 4\\n'\n"
                       "te=chunked;len=;body=abcd\n"
                       "te=;len=3;body=xyz\n"
                       "A same socket True\n");
        CHECK(runner.requests_handled() == 6);
    });
}

// ---- aiohttp's client against our server ------------------------------------------------

TEST_CASE("aiohttp's client talks to our server: GET, POST, chunked both ways, HEAD, 404, "
          "keep-alive",
          "[http][interop]") {
    if (!have_aiohttp()) {
        WARN("no aiohttp for /usr/bin/python3 (Debian python3-aiohttp): skipped");
        return;
    }
    with_our_server([](aio::http::app_runner& runner) {
        std::string script =
            "import asyncio, aiohttp\n"
            "base = '" +
            base(runner) +
            "'\n"
            "async def parts():\n"
            "    for p in (b'one ', b'two ', b'three'):\n"
            "        yield p\n"
            "async def main():\n"
            "    timeout = aiohttp.ClientTimeout(total=5)\n"
            "    async with aiohttp.ClientSession(timeout=timeout) as s:\n"
            "        async with s.get(base + '/hello') as r:\n"
            "            print(r.status, r.reason, repr(await r.text()))\n"
            "        async with s.post(base + '/echo', data=b'from aiohttp') as r:\n"
            "            print(await r.text())\n"
            "        async with s.post(base + '/echo', data=parts()) as r:\n"
            "            print(await r.text())\n"
            "        async with s.get(base + '/stream') as r:\n"
            "            print(r.headers.get('Transfer-Encoding'))\n"
            "            body = b''\n"
            "            async for chunk in r.content.iter_any():\n"
            "                body += chunk\n"
            "            print(repr(body.decode()))\n"
            "        async with s.head(base + '/hello') as r:\n"
            "            print(r.status, r.headers.get('Content-Length'))\n"
            "        async with s.get(base + '/nothing') as r:\n"
            "            print(r.status, await r.text())\n"
            "        peers = set()\n"
            "        for i in range(3):\n"
            "            async with s.get(base + '/peer') as r:\n"
            "                peers.add(await r.text())\n"
            "        print('connections', len(peers))\n"
            "asyncio.run(main())\n";
        auto r = run_command(python_command(script));
        INFO(r.err);
        CHECK(r.status == 0);
        CHECK(r.out == "200 OK 'Hello, World!'\n"
                       "te=;len=12;body=from aiohttp\n"
                       "te=chunked;len=;body=one two three\n"
                       "chunked\n"
                       "'part 0\\npart 1\\npart 2\\npart 3\\npart 4\\n'\n"
                       "200 13\n"
                       "404 404: Not Found\n"
                       "connections 1\n");
    });
}

// RFC 9110 §10.1.1: the server sends 100 Continue before the body.
TEST_CASE("aiohttp's client with expect100 gets 100 Continue from our server", "[http][interop]") {
    if (!have_aiohttp()) {
        WARN("no aiohttp for /usr/bin/python3 (Debian python3-aiohttp): skipped");
        return;
    }
    with_our_server([](aio::http::app_runner& runner) {
        // aiohttp's client holds the body back until "100 Continue" arrives, with no timeout
        // of its own: without the interim response the request can only time out.
        std::string script = "import asyncio, aiohttp\n"
                             "async def main():\n"
                             "    timeout = aiohttp.ClientTimeout(total=0.5)\n"
                             "    async with aiohttp.ClientSession(timeout=timeout) as s:\n"
                             "        try:\n"
                             "            async with s.post('" +
                             base(runner) +
                             "/echo', data=b'expected', expect100=True) as r:\n"
                             "                print(r.status, await r.text())\n"
                             "        except asyncio.TimeoutError:\n"
                             "            print('timed out waiting for 100 Continue')\n"
                             "asyncio.run(main())\n";
        auto r = run_command(python_command(script));
        INFO(r.err);
        CHECK(r.status == 0);
        CHECK(r.out == "200 te=;len=8;body=expected\n");
    });
}

// ---- our client against python3 -m http.server ------------------------------------------

TEST_CASE("our client GETs a file and a 404 from python3 -m http.server (HTTP/1.0, closes)",
          "[http][interop]") {
    if (!have_python()) {
        WARN("no /usr/bin/python3: skipped");
        return;
    }
    run_test(
        [] {
            served_directory www;
            python_server py(
                {"-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", www.dir});
            std::string line = py.first_line();
            INFO(line << py.err());
            std::uint16_t port = port_of(line);
            REQUIRE(port != 0);
            client_session http;
            auto r = http.get(base(port) + "/hello.txt");
            CHECK(r.status() == 200);
            CHECK(r.headers().value("Content-Type") == "text/plain");
            CHECK(r.headers().value("Content-Length") == std::to_string(www.file_body.size()));
            CHECK(r.text() == www.file_body);
            auto nf = http.get(base(port) + "/missing.txt");
            CHECK(nf.status() == 404);
            CHECK(nf.reason() == "File not found");
            CHECK(nf.text().find("Error code: 404") != std::string::npos);
            // An HTTP/1.0 server closes after each response: nothing stale was reused.
            CHECK(http.connections_opened() == 2);
            http.close();
        },
        real_time);
}

TEST_CASE("our client keeps a connection to python3 -m http.server --protocol HTTP/1.1 "
          "until it closes it",
          "[http][interop]") {
    if (!have_python()) {
        WARN("no /usr/bin/python3: skipped");
        return;
    }
    run_test(
        [] {
            served_directory www;
            python_server py({"-m", "http.server", "0", "--bind", "127.0.0.1", "--directory",
                              www.dir, "--protocol", "HTTP/1.1"});
            std::string line = py.first_line();
            INFO(line << py.err());
            std::uint16_t port = port_of(line);
            REQUIRE(port != 0);
            client_session http;
            for (int i = 0; i < 3; ++i) {
                CHECK(http.get(base(port) + "/hello.txt").text() == www.file_body);
            }
            CHECK(http.connections_opened() == 1);
            // http.server closes after an error (send_error says "Connection: close"): the
            // next request needs a new connection, not the dead one.
            auto nf = http.get(base(port) + "/missing.txt");
            CHECK(nf.status() == 404);
            CHECK(nf.headers().value("Connection") == "close");
            nf.text();
            CHECK(http.get(base(port) + "/hello.txt").text() == www.file_body);
            CHECK(http.get(base(port) + "/hello.txt").text() == www.file_body);
            CHECK(http.connections_opened() == 2);
            http.close();
        },
        real_time);
}

// ---- our client against an aiohttp server -----------------------------------------------

TEST_CASE("our client talks to an aiohttp server: GET, POST echo, chunked stream, redirect, "
          "keep-alive",
          "[http][interop]") {
    if (!have_aiohttp()) {
        WARN("no aiohttp for /usr/bin/python3 (Debian python3-aiohttp): skipped");
        return;
    }
    run_test(
        [] {
            python_server py({"-c", aiohttp_server_script});
            std::string line = py.first_line();
            INFO(line << py.err());
            std::uint16_t port = port_of(line);
            REQUIRE(port != 0);
            client_session http;

            auto hello = http.get(base(port) + "/hello");
            CHECK(hello.status() == 200);
            CHECK(hello.reason() == "OK");
            CHECK(hello.headers().value("Content-Type") == "text/plain; charset=utf-8");
            CHECK(hello.text() == "Hello from aiohttp");

            auto echo = http.post(base(port) + "/echo", "posted by aio");
            CHECK(echo.status() == 200);
            CHECK(echo.text() == "echo:posted by aio");

            auto s = http.get(base(port) + "/stream");
            CHECK(s.status() == 200);
            CHECK(s.headers().value("Transfer-Encoding") == "chunked");
            std::string body;
            for (std::string part = s.read_chunk(); !part.empty(); part = s.read_chunk()) {
                body += part;
            }
            CHECK(body == streamed);
            CHECK(s.body_complete());

            auto red = http.get(base(port) + "/redirect");
            CHECK(red.status() == 200);
            CHECK(red.redirects() == 1);
            CHECK(red.url().path() == "/hello");
            CHECK(red.text() == "Hello from aiohttp");

            auto nf = http.get(base(port) + "/nothing");
            CHECK(nf.status() == 404);
            CHECK(nf.text() == "404: Not Found");

            // Every request so far, and these, went over one connection.
            std::string p1 = http.get(base(port) + "/peer").text();
            std::string p2 = http.get(base(port) + "/peer").text();
            CHECK(p1 == p2);
            CHECK(http.connections_opened() == 1);
            http.close();
        },
        real_time);
}
