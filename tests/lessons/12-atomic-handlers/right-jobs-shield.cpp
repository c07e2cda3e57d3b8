// Right: the handler hands its whole body to the application's scheduler with
// aio::jobs::http::shield (setup(app) first): shielded, and waited for by the cleanup.
#include "lesson.hpp"

#include <aio/aio.hpp>
#include <aio/http/client.hpp>
#include <aio/http/server.hpp>
#include <aio/jobs/http.hpp>

#include <cstdint>
#include <exception>
#include <map>
#include <string>

using namespace std::chrono_literals;

// The in-memory "database" of accounts. Each update is a round trip (a yield point) and
// commits on its own.
std::map<std::string, int> accounts = {{"alice", 100}, {"bob", 0}};

void update_balance(const std::string& account, int delta) {  // UPDATE accounts ...
    aio::sleep(20ms);
    accounts[account] += delta;
}

// POST /transfer?from=alice&to=bob&amount=100
aio::http::response transfer(aio::http::request& req) {
    std::string from(req.query("from").value_or(""));
    std::string to(req.query("to").value_or(""));
    int amount = std::stoi(std::string(req.query("amount").value_or("0")));
    update_balance(from, -amount);
    lesson::say("server: debited %d from %s; the bank's API is slow today...", amount,
                from.c_str());
    aio::sleep(2s);  // the bank confirms the transfer (a yield point)
    update_balance(to, amount);
    lesson::say("server: credited %d to %s: transfer done", amount, to.c_str());
    return aio::http::response::text("transferred\n");
}

// The client sends one transfer and waits up to 5 s for the answer.
void send_transfer(std::uint16_t port) {
    aio::http::client_session http;
    std::string url =
        "http://127.0.0.1:" + std::to_string(port) + "/transfer?from=alice&to=bob&amount=100";
    try {
        auto r = http.post(url, "", {.timeouts = aio::http::client_timeouts{.total = 5s}});
        lesson::say("client: %d %s", r.status(), r.text().c_str());
    } catch (const std::exception& e) {
        lesson::say("client: no answer: %s", e.what());
    }
    http.close();
}

void print_accounts() {
    int total = accounts["alice"] + accounts["bob"];
    lesson::say("accounts: alice %d, bob %d, total %d%s", accounts["alice"], accounts["bob"], total,
                total == 100 ? "" : ": money vanished mid-transfer");
}

int main() {
    aio::run([] {
        lesson::start();
        aio::http::application app;
        // TODO: a graceful shutdown cancels a handler that runs longer than
        // shutdown_timeout, at its next yield point: here, between the debit and the
        // credit. Make the whole handler one unit that neither a shutdown nor a client can
        // cut in half (the talk's last aiojobs slide), and let the application's cleanup wait
        // for it.
        aio::jobs::http::setup(app);
        app.add_post("/transfer", [](aio::http::request& req) {
            return aio::jobs::http::shield(req, [&req] { return transfer(req); });
        });
        // handler_cancellation stays off (the default). shutdown_timeout is 60 s by default;
        // 1 s here to keep the lesson short (an orchestrator's grace period is not much more).
        aio::http::app_runner runner(app, {.shutdown_timeout = 1s, .print_banner = false});
        runner.start("127.0.0.1", 0);
        auto client =
            aio::create_task(aio::task_options{.name = "client"}, send_transfer, runner.port());
        aio::sleep(500ms);
        lesson::say("deploy: SIGTERM; the server shuts down gracefully (it waits up to 1 s "
                    "for running handlers)");
        runner.cleanup();
        lesson::say("server stopped: %llu handler(s) cancelled",
                    static_cast<unsigned long long>(runner.handlers_cancelled()));
        client.get();
        print_accounts();
    });
}
