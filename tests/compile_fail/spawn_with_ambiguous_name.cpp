// expect: fn can be called both with and without x, so x could be the job's name or fn's argument
// A fn with a default argument: is "eu-west" the job's name or the region to crawl?
#include <aio/jobs/scheduler.hpp>

#include <string>

void caller(aio::jobs::scheduler& jobs) {
    auto j = jobs.spawn([](std::string region = "all") { (void)region; }, "eu-west");
    (void)j;
}
