// JSON in and out of HTTP: request::json(), response::json(value or raw text),
// client_response::json() and request_options::json, through a real session and app_runner.
#include "support.hpp"

#include <aio/http/client.hpp>
#include <aio/http/server.hpp>

#include <catch2/catch.hpp>

#include <string>

using namespace std::chrono_literals;
using aio::http::application;
using aio::http::client_session;
using aio::http::request;
using aio::http::response;
using aio::test::run_test;
using nlohmann::json;

namespace {

const aio::test::test_options real_time{.virtual_time = false};

std::string base(const aio::http::app_runner& r) {
    return "http://127.0.0.1:" + std::to_string(r.port());
}

}  // namespace

TEST_CASE("response::json serialises a JSON value and sends a string as raw JSON text",
          "[http][json]") {
    // A JSON value, however it is written, is serialised.
    json j = {{"ok", true}, {"n", 3}};
    CHECK(response::json(j).body() == R"({"n":3,"ok":true})");
    CHECK(response::json({{"ok", true}}).body() == R"({"ok":true})");
    CHECK(response::json({1, 2, 3}).body() == "[1,2,3]");
    CHECK(response::json({"a", "b"}).body() == R"(["a","b"])");
    CHECK(response::json(nullptr).body() == "null");
    CHECK(response::json(json("a \"quoted\" text")).body() == R"("a \"quoted\" text")");
    // A string is raw JSON text, sent as given (a literal, a std::string, a string_view).
    CHECK(response::json(R"({"raw":1})").body() == R"({"raw":1})");
    std::string text = "[true]";
    CHECK(response::json(text).body() == "[true]");
    CHECK(response::json(std::string_view(text)).body() == "[true]");
    CHECK(response::json(std::string("not even JSON")).body() == "not even JSON");
    // Status and content type, for both.
    response a = response::json({{"created", 1}}, 201);
    response b = response::json("{}", 202);
    CHECK(a.status() == 201);
    CHECK(b.status() == 202);
    CHECK(a.headers().value("Content-Type") == "application/json");
    CHECK(b.headers().value("Content-Type") == "application/json");
    CHECK_THROWS_AS(response::json(j, 99), aio::value_error);
}

TEST_CASE("request::json parses the body, and a body that is not JSON is a 400 saying why",
          "[http][json]") {
    run_test(
        [] {
            application app;
            app.add_post("/echo", [](request& req) {
                json in = req.json();
                return response::json({{"got", in}, {"count", in.size()}}, 201);
            });
            aio::http::app_runner runner(app);
            runner.start("127.0.0.1", 0);
            client_session http;
            auto r = http.post(base(runner) + "/echo", R"({"name": "ada", "tags": [1, 2]})");
            CHECK(r.status() == 201);
            CHECK(r.headers().value("Content-Type") == "application/json");
            json out = r.json();
            CHECK(out["got"]["name"] == "ada");
            CHECK(out["got"]["tags"] == json({1, 2}));
            CHECK(out["count"] == 2);

            auto bad = http.post(base(runner) + "/echo", "{\"name\": ");
            CHECK(bad.status() == 400);
            std::string body = bad.text();
            CHECK_THAT(body, Catch::StartsWith("invalid JSON in the request body: "));
            CHECK_THAT(body, Catch::Contains("parse error"));
            CHECK_THAT(body, !Catch::Contains("[json.exception"));

            auto empty = http.post(base(runner) + "/echo", "");
            CHECK(empty.status() == 400);
            CHECK_THAT(empty.text(), Catch::Contains("unexpected end of input"));
            http.close();
            runner.cleanup();
        },
        real_time);
}

TEST_CASE("client_response::json parses the body; not JSON is a value_error naming the request",
          "[http][json][client]") {
    run_test(
        [] {
            application app;
            app.add_get("/ok", [](request&) { return response::json({{"v", 1.5}}); });
            app.add_get("/html",
                        [](request&) { return response(503, "<html>down</html>", "text/html"); });
            aio::http::app_runner runner(app);
            runner.start("127.0.0.1", 0);
            client_session http;
            CHECK(http.get(base(runner) + "/ok").json() == json({{"v", 1.5}}));
            auto r = http.get(base(runner) + "/html");
            try {
                (void)r.json();
                FAIL("no error");
            } catch (const aio::value_error& e) {
                std::string m = e.what();
                CHECK_THAT(m, Catch::Contains("GET " + base(runner) + "/html"));
                CHECK_THAT(m, Catch::Contains("status 503"));
                CHECK_THAT(m, Catch::Contains("not JSON"));
                CHECK_THAT(m, Catch::Contains("invalid literal"));
            }
            http.close();
            runner.cleanup();
        },
        real_time);
}

TEST_CASE("request_options::json sends a JSON body with its Content-Type", "[http][json][client]") {
    run_test(
        [] {
            application app;
            app.add_route("*", "/", [](request& req) {
                return response::json({{"method", req.method()},
                                       {"type", req.headers().value("Content-Type")},
                                       {"body", req.json()}});
            });
            aio::http::app_runner runner(app);
            runner.start("127.0.0.1", 0);
            client_session http;
            json got =
                http.post(base(runner) + "/", "", {.json = {{"name", "x"}, {"n", 2}}}).json();
            CHECK(got["method"] == "POST");
            CHECK(got["type"] == "application/json");
            CHECK(got["body"] == json({{"name", "x"}, {"n", 2}}));
            // null is a JSON body too; a Content-Type given is kept.
            got = http.request("PUT", base(runner) + "/",
                               {.headers = {{"Content-Type", "application/vnd.x+json"}},
                                .json = nullptr})
                      .json();
            CHECK(got["body"].is_null());
            CHECK(got["type"] == "application/vnd.x+json");
            // Both a body and json: which one was meant?
            CHECK_THROWS_WITH(http.post(base(runner) + "/", "{}", {.json = {{"a", 1}}}),
                              Catch::Contains("both a body and json"));
            http.close();
            runner.cleanup();
        },
        real_time);
}

TEST_CASE("a JSON POST redirected with 303 becomes a GET without body or Content-Type",
          "[http][json][client]") {
    run_test(
        [] {
            application app;
            app.add_post("/submit", [](request&) {
                aio::http::response r(303);
                r.headers().set("Location", "/result");
                return r;
            });
            app.add_get("/result", [](request& req) {
                return response::json({{"method", req.method()},
                                       {"has_type", req.headers().contains("Content-Type")},
                                       {"body", req.text()}});
            });
            aio::http::app_runner runner(app);
            runner.start("127.0.0.1", 0);
            client_session http;
            json got = http.post(base(runner) + "/submit", "", {.json = {{"a", 1}}}).json();
            CHECK(got["method"] == "GET");
            CHECK(got["body"] == "");
            // Before, the JSON body's Content-Type went on with the GET that has no body.
            CHECK(got["has_type"] == false);
            http.close();
            runner.cleanup();
        },
        real_time);
}
