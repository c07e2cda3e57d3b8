// WRONG: the cancellation caught and ignored ("the client left anyway"). The cancellation
// still cut the inserts between the two round trips (0 of 3 lines), and the handler swallowed
// it, so whoever cancelled it believes it stopped. The check must reject it (half a record;
// debug mode: cancel-swallowed).
// Lesson 09: a web handler cancelled mid-write. POST /orders saves an order in two round
// trips to the database: the order row, then its lines. The server cancels a handler whose
// client disconnects (handler_cancellation), and a phone app gives up after 250 ms, between
// the two inserts. The order is saved, its lines are not: half a record. Right after, the
// server shuts down for a deploy, as servers do.
#include "lesson.hpp"

#include <aio/aio.hpp>
#include <aio/http/client.hpp>
#include <aio/http/server.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

using namespace std::chrono_literals;

// The in-memory "database": two tables, as in SQL. Each call is a round trip to the
// database server (a yield point) and commits on its own.
struct database {
    std::map<int, std::string> orders;                     // id -> customer
    std::vector<std::pair<int, std::string>> order_lines;  // (order id, item)
    int next_id = 1;

    // INSERT INTO orders ...
    int insert_order(const std::string& customer) {
        aio::sleep(50ms);
        orders[next_id] = customer;
        return next_id++;
    }
    // INSERT INTO order_lines ...
    void insert_lines(int order_id, const std::vector<std::string>& items) {
        try {
            aio::sleep(700ms);
        } catch (const aio::cancelled_error& e) {
            // The lesson shows the moment (a real driver would not print): a cancellation
            // is delivered here, at a yield point the handler's code does not show.
            lesson::say("db: order %d: cancelled inside INSERT INTO order_lines (\"%s\"): the "
                        "order row is committed, its lines never will be",
                        order_id, e.what());
            throw;
        }
        for (const auto& item : items) {
            order_lines.emplace_back(order_id, item);
        }
    }
};
database db;

struct order {
    std::string customer;
    std::vector<std::string> items;
};

// The request body: the customer on the first line, one item per line after it.
order parse_order(const std::string& body) {
    order o;
    std::size_t at = 0;
    while (at < body.size()) {
        std::size_t end = body.find('\n', at);
        if (end == std::string::npos) {
            end = body.size();
        }
        std::string line = body.substr(at, end - at);
        if (o.customer.empty()) {
            o.customer = line;
        } else {
            o.items.push_back(line);
        }
        at = end + 1;
    }
    return o;
}

// One order, two inserts: both or neither is the invariant.
int save_order(const order& o) {
    int id = db.insert_order(o.customer);
    lesson::say("server: order %d inserted; inserting its %zu lines...", id, o.items.size());
    db.insert_lines(id, o.items);
    lesson::say("server: order %d complete", id);
    return id;
}

// POST /orders
aio::http::response create_order(aio::http::request& req) {
    order o = parse_order(req.text());
    // TODO: this handler runs in the connection's task, and the server cancels that task
    // when the client disconnects: at the next yield point, which may sit between the two
    // inserts. Protect the two inserts from the handler's cancellation, in a way the
    // application's shutdown still waits for (aio::shield alone is not enough: why?).
    int id = 0;
    try {
        id = save_order(o);
    } catch (const aio::cancelled_error&) {
        lesson::say("server: the client left; never mind");
    }
    return aio::http::response::text("order " + std::to_string(id) + " created\n", 201);
}

// A phone app on a bad network: it posts an order and gives up after 250 ms, closing the
// connection while the server is still working on it.
void impatient_client(std::uint16_t port) {
    aio::http::client_session http;
    std::string url = "http://127.0.0.1:" + std::to_string(port) + "/orders";
    try {
        auto r = http.post(url, "ann\nwidget x2\ngadget x1\ngizmo x5",
                           {.timeouts = aio::http::client_timeouts{.total = 250ms}});
        lesson::say("client: %d %s", r.status(), r.text().c_str());
    } catch (const aio::timeout_error&) {
        lesson::say("client: no answer within 250 ms; gives up and disconnects");
    }
    http.close();
}

void print_database() {
    for (const auto& [id, customer] : db.orders) {
        int lines = 0;
        for (const auto& line : db.order_lines) {
            lines += line.first == id ? 1 : 0;
        }
        lesson::say("db: order %d (%s): %d of 3 lines%s", id, customer.c_str(), lines,
                    lines == 3 ? "" : ": half a record, the warehouse ships nothing");
    }
}

int main() {
    aio::run([] {
        lesson::start();
        aio::http::application app;
        app.add_post("/orders", create_order);
        // The server cancels a handler whose client disconnects (aiohttp's
        // handler_cancellation: off by default since aiohttp 3.9, turned on by apps that do
        // not want to waste work on clients that left).
        aio::http::app_runner runner(app, {.handler_cancellation = true, .print_banner = false});
        runner.start("127.0.0.1", 0);
        impatient_client(runner.port());
        aio::sleep(50ms);
        lesson::say("deploy: the server shuts down gracefully");
        runner.cleanup();
        lesson::say("server stopped: %llu handler(s) cancelled",
                    static_cast<unsigned long long>(runner.handlers_cancelled()));
        print_database();
    });
}
