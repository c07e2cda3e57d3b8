// Right: a scheduler with a limit of 5 and an exception handler, closed by an explicit
// wait_and_close() instead of with_scheduler.
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
    // TODO: this scheduler runs every mail at once (its limit is 100), sends a failed mail
    // to nobody in particular, and is destroyed at the end of this function without being
    // closed: the mails still running are cancelled. Limit it, give it an exception
    // handler, and close it gracefully before it goes away.
    aio::jobs::scheduler mailer(
        {.limit = 5,
         .wait_timeout = 5s,
         .exception_handler = [](aio::jobs::scheduler&, const aio::jobs::exception_context& ctx) {
             lesson::say("%s failed: will retry", ctx.job.name().c_str());
         }});
    for (int order = 1; order <= 20; ++order) {
        mailer.spawn([order] { send_mail(order); }, "mail " + std::to_string(order));
    }
    mailer.wait_and_close();
}

// ---- the lesson's checks: do not edit below this line (the runner reads what it prints) ----
int main() {
    aio::run([] {
        lesson::start();
        accept_orders();
        aio::sleep(100ms);  // let the cancelled mails unwind
        lesson::say("mail server saw up to %d connections at once%s", peak_connections,
                    peak_connections > 10 ? ": check: it was flooded (no limit on the mails)" : "");
        lesson::say("shop closed: %d of 20 confirmation mails sent", sent);
    });
}
