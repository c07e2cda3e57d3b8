// Right: an aio::lock held across the whole read-modify-write (hint 3's other fix): the tellers
// take turns, every deposit and every audit record counts.
#include "lesson.hpp"

#include <aio/aio.hpp>

using namespace std::chrono_literals;

int balance = 0;
aio::lock account_lock;
int audited = 0;  // audit records written (the lesson's check counts them)

// Writes one line to the audit log. Storage is remote, so this waits for it: aio::sleep
// stands for that wait. Nothing at the call site says so. With fibers, any function may
// suspend the task inside (a *yield point*), and other tasks run while it waits.
void audit_log(int teller, int amount) {
    aio::sleep(1ms);
    ++audited;
    (void)teller;
    (void)amount;
}

void deposit(int teller, int amount) {
    // TODO: between reading `balance` and writing it back, this task suspends (inside
    // audit_log) and the other tellers deposit. Make the read-modify-write safe.
    auto held = account_lock.guard();
    int current = balance;       // 1. read
    audit_log(teller, amount);   // 2. a yield point: other tasks run here
    balance = current + amount;  // 3. write what was read before the yield point
}

void teller(int id) {
    for (int i = 0; i < 20; ++i) {
        deposit(id, 10);
    }
}

// ---- the lesson's checks: do not edit below this line (the runner reads what it prints) ----
int main() {
    aio::run([] {
        lesson::start();
        lesson::say("10 tellers each deposit 10, twenty times: 2000 in total");
        std::vector<aio::task<void>> tellers;
        for (int id = 0; id < 10; ++id) {
            tellers.push_back(aio::create_task(teller, id));
        }
        for (int step = 1; step <= 4; ++step) {
            aio::sleep(5ms);
            lesson::say("balance so far: %d", balance);
        }
        aio::gather(tellers);
        int expected = 10 * 20 * 10;
        lesson::say("final balance: %d (expected %d)", balance, expected);
        if (balance != expected) {
            lesson::say("%d was lost: updates were lost across a yield point", expected - balance);
        }
        lesson::say("audit records: %d of %d%s", audited, expected / 10,
                    audited == expected / 10 ? "" : ": deposits went unaudited");
    });
}
