// expect: scheduler::spawn accepts spawn(fn), spawn(fn, "name") for a fn that takes no
// fn takes an int; a string is neither its argument nor (since fn needs an argument) a name.
#include <aio/jobs/scheduler.hpp>

#include <string>

void caller(aio::jobs::scheduler& jobs) {
    auto j = jobs.spawn([](int order_id) { (void)order_id; }, std::string("order 7"));
    (void)j;
}
