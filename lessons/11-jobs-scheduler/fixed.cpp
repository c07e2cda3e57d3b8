// Lesson 11, fixed: the scheduler does what it is for (the talk's "safe code" slide): it
// limits how many mails go out at once, hands each failure to an exception handler, and is
// closed gracefully, waiting for the mails, before it goes away.
#include "lesson.hpp"

#include <aio/aio.hpp>
#include <aio/jobs/scheduler.hpp>

#include <stdexcept>
#include <string>

using namespace std::chrono_literals;

int sent = 0;
int connections = 0;       // connections open to the mail server right now
int peak_connections = 0;  // and at most

// Sending one mail: the mail server takes 100-400 ms, and mailbox 7 is full.
void send_mail(int order) {
    ++connections;
    peak_connections = std::max(peak_connections, connections);
    try {
        aio::sleep(std::chrono::milliseconds(100 + 15 * order));
        if (order == 7) {
            throw std::runtime_error("order 7: 552 mailbox full");
        }
    } catch (...) {
        --connections;
        throw;
    }
    --connections;
    ++sent;
}

void accept_orders() {
    int failed = 0;
    // FIXED: with_scheduler is `async with aiojobs.Scheduler(...)`: when the body returns it
    // calls wait_and_close(), which waits for every mail (up to wait_timeout), then closes.
    aio::jobs::with_scheduler(
        {
            .limit = 4,          // FIXED: at most 4 mails at once: the mail server is not flooded
            .wait_timeout = 5s,  // FIXED: how long the graceful close waits for the mails
            // FIXED: failures nobody waits for come here, with the job that failed.
            .exception_handler =
                [&failed](aio::jobs::scheduler&, const aio::jobs::exception_context& ctx) {
                    ++failed;
                    lesson::say("%s: %s (queued for a retry)", ctx.job.name().c_str(),
                                aio::describe_exception(ctx.exception).c_str());
                },
            .name = "mailer",
        },
        [](aio::jobs::scheduler& mailer) {
            for (int order = 1; order <= 20; ++order) {
                mailer.spawn([order] { send_mail(order); }, "mail " + std::to_string(order));
            }
            lesson::say("20 orders accepted: %zu mails on their way, %zu waiting for a slot",
                        mailer.active_count(), mailer.pending_count());
        });
    lesson::say("every mail ended: %d failed and were handled", failed);
}

// ---- the lesson's checks: do not edit below this line (the runner reads what it prints) ----
int main() {
    aio::run([] {
        lesson::start();
        accept_orders();
        lesson::say("mail server saw up to %d connections at once%s", peak_connections,
                    peak_connections > 10 ? ": check: it was flooded (no limit on the mails)" : "");
        lesson::say("shop closed: %d of 20 confirmation mails sent", sent);
    });
}
