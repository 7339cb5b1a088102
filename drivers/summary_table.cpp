// summary_table — one table from the summary.json files of several experiment runs: per experiment
// and method, the final loss, the steps to reach the loss threshold, the teleports and the times.
// Every number comes from the files; scripts/main prints this after running the drivers.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "driver_common.hpp"
#include "output.hpp"

namespace {

using teleport::drivers::json;

json read_summary(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot read " + path);
    try {
        return json::parse(in);
    } catch (const json::exception& e) {
        throw std::runtime_error(path + " is not valid JSON (" + std::string(e.what()) + ")");
    }
}

std::string number(const json& v, const char* format) {
    if (!v.is_number()) return "-";
    char buffer[40];
    std::snprintf(buffer, sizeof buffer, format, v.get<double>());
    return buffer;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Print one table from the summary.json files written by the experiment drivers."};
    std::vector<std::string> files;
    app.add_option("files", files, "summary.json files, in the order of the table")->required()->check(CLI::ExistingFile);

    return teleport::drivers::run_driver("summary_table", app, argc, argv, [&] {
        std::vector<json> summaries;
        for (const auto& path : files) summaries.push_back(read_summary(path));
        std::printf("%-30s %-16s %12s %14s %10s %11s %12s\n", "experiment", "method", "final loss", "steps to L<thr",
                    "teleports", "time [s]", "teleport [s]");
        std::vector<double> thresholds;
        for (std::size_t f = 0; f < summaries.size(); ++f) {
            const json& s = summaries[f];
            if (!s.contains("methods") || !s["methods"].is_array())
                throw std::runtime_error(files[f] + " has no 'methods' list");
            const std::string experiment = s.value("experiment", s.value("driver", files[f]));
            const double threshold = s.value("threshold", 0.0);
            if (std::find(thresholds.begin(), thresholds.end(), threshold) == thresholds.end())
                thresholds.push_back(threshold);
            for (const json& m : s["methods"]) {
                const std::string teleports =
                    m.value("teleport", false)
                        ? std::to_string(m.value("teleports_accepted", 0)) + "/" + std::to_string(m["teleports"].size())
                        : "-";
                const json reached = m.contains("steps_to_threshold") ? m["steps_to_threshold"] : json(nullptr);
                std::printf("%-30s %-16s %12s %14s %10s %11s %12s\n", experiment.c_str(),
                            m.value("label", m.value("name", "?")).c_str(), number(m["final_loss"], "%.4e").c_str(),
                            reached.is_number() ? std::to_string(reached.get<long long>()).c_str() : "-",
                            teleports.c_str(), number(m["total_seconds"], "%.3e").c_str(),
                            number(m["teleport_seconds"], "%.3e").c_str());
            }
        }
        std::string list;
        for (double t : thresholds) list += (list.empty() ? "" : ", ") + teleport::drivers::format_short(t);
        std::printf("steps to L<thr: optimizer updates until the loss is below thr = %s ('-': never); "
                    "teleports: accepted/attempted\n",
                    list.c_str());
        return 0;
    });
}
