// summary_table — one table from the summary.json files of several experiment runs: per experiment
// and optimizer, the final loss without and with teleportation, the steps and seconds each needed to
// get below a few loss thresholds, and the teleports. Every number comes from the files (and the
// CSV files beside them); reproduce prints the same table after running every experiment.
#include <cstdio>
#include <string>
#include <vector>

#include "driver_common.hpp"
#include "output.hpp"
#include "summary.hpp"

int main(int argc, char** argv) {
    CLI::App app{"Print one table from the summary.json files written by the experiment drivers (and the CSV "
                 "files beside them): final losses, and the steps and seconds to reach loss thresholds, without and "
                 "with teleportation."};
    std::vector<std::string> files;
    std::string thresholds_text;
    app.add_option("files", files, "summary.json files, in the order of the table")
        ->required()
        ->check(CLI::ExistingFile);
    app.add_option("--thresholds", thresholds_text,
                   "loss thresholds for every file, comma-separated (default: each experiment's standard thresholds "
                   "and the run's own --threshold)")
        ->check(teleport::drivers::non_empty());

    return teleport::drivers::run_driver("summary_table", app, argc, argv, [&] {
        namespace summary = teleport::drivers::summary;
        std::vector<double> thresholds;
        if (!thresholds_text.empty()) {
            thresholds = teleport::drivers::parse_double_list(thresholds_text, "--thresholds");
            for (double t : thresholds)
                if (t <= 0)
                    throw std::invalid_argument("--thresholds: " + teleport::drivers::format_short(t) +
                                                " is not positive");
        }
        std::vector<summary::experiment_table> tables;
        for (const auto& path : files) tables.push_back(summary::load_experiment(path, thresholds));
        std::fputs(summary::table_text(tables).c_str(), stdout);
        return 0;
    });
}
