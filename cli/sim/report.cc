#include "sim/report.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>

#include "cli_common.h"

namespace rayk::sim {

namespace {

std::string Fixed(double value, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, value);
  return buf;
}

std::string Bytes(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024 && unit < 5) {
    value /= 1024;
    ++unit;
  }
  return Fixed(value, unit == 0 ? 0 : 1) + " " + units[unit];
}

double MicrosPerCall(const SimResult& r) {
  return r.scheduler_calls == 0 ? 0
                                : r.decision_seconds * 1e6 / static_cast<double>(r.scheduler_calls);
}

// The resources any run used, in the order they first appear.
std::vector<std::string> Resources(const std::vector<PolicyRun>& runs) {
  std::vector<std::string> names;
  for (const PolicyRun& run : runs) {
    for (const std::string& name : run.result.resources) {
      if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
    }
  }
  return names;
}

double UtilizationOf(const SimResult& r, const std::string& name) {
  for (size_t i = 0; i < r.resources.size(); ++i) {
    if (r.resources[i] == name) return r.utilization[i];
  }
  return 0;
}

// Quotes a string for a gnuplot script.
std::string Quoted(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

std::string FormatComparison(const std::vector<PolicyRun>& runs) {
  std::vector<std::string> resources = Resources(runs);
  std::vector<std::string> header = {"POLICY", "MAKESPAN", "WAIT MEAN", "WAIT P99"};
  for (const std::string& name : resources) header.push_back("UTIL " + name);
  for (const char* h : {"SPILLBACKS", "BYTES MOVED", "LEASE REQS", "SCHED CALLS", "US/CALL",
                        "UNFINISHED", "WALL"}) {
    header.push_back(h);
  }
  std::vector<std::vector<std::string>> rows = {header};
  for (const PolicyRun& run : runs) {
    const SimResult& r = run.result;
    std::vector<std::string> row = {run.policy, Fixed(r.makespan, 2) + " s",
                                    Fixed(r.mean_wait, 3) + " s", Fixed(r.p99_wait, 3) + " s"};
    for (const std::string& name : resources) {
      row.push_back(Fixed(100 * UtilizationOf(r, name), 1) + "%");
    }
    row.push_back(std::to_string(r.spillbacks));
    row.push_back(Bytes(r.bytes_moved));
    row.push_back(std::to_string(r.lease_requests));
    row.push_back(std::to_string(r.scheduler_calls));
    row.push_back(Fixed(MicrosPerCall(r), 1));
    row.push_back(std::to_string(r.unfinished));
    row.push_back(Fixed(r.wall_seconds, 1) + " s");
    rows.push_back(std::move(row));
  }
  std::string out = cli::FormatTable(rows, "");
  for (const PolicyRun& run : runs) {
    const SimResult& r = run.result;
    if (r.bad_decisions > 0) {
      out += "warning: " + run.policy + " made " + std::to_string(r.bad_decisions) +
             " decisions naming a node that was not in the view or could not fit the demand; "
             "the simulator kept those requests waiting\n";
    }
    if (r.infeasible_requests > 0) {
      out += "note: " + run.policy + " called " + std::to_string(r.infeasible_requests) +
             " requests infeasible\n";
    }
  }
  return out;
}

nlohmann::json ComparisonJson(const std::vector<PolicyRun>& runs) {
  nlohmann::json policies = nlohmann::json::array();
  for (const PolicyRun& run : runs) {
    const SimResult& r = run.result;
    nlohmann::json utilization = nlohmann::json::object();
    for (size_t i = 0; i < r.resources.size(); ++i) utilization[r.resources[i]] = r.utilization[i];
    policies.push_back({{"policy", run.policy},
                        {"makespan_s", r.makespan},
                        {"wait_mean_s", r.mean_wait},
                        {"wait_p99_s", r.p99_wait},
                        {"utilization", utilization},
                        {"finished", r.finished},
                        {"unfinished", r.unfinished},
                        {"infeasible_requests", r.infeasible_requests},
                        {"retried", r.retried},
                        {"spillbacks", r.spillbacks},
                        {"bytes_moved", r.bytes_moved},
                        {"lease_requests", r.lease_requests},
                        {"scheduler_calls", r.scheduler_calls},
                        {"bad_decisions", r.bad_decisions},
                        {"decision_us_per_call", MicrosPerCall(r)},
                        {"decision_s", r.decision_seconds},
                        {"wall_s", r.wall_seconds}});
  }
  return {{"policies", policies}};
}

Status WritePlot(const std::vector<PolicyRun>& runs, const std::string& path,
                 const std::string& resource) {
  std::string extension = std::filesystem::path(path).extension().string();
  std::string terminal;
  if (extension == ".svg") {
    terminal = "svg size 1000,700 dynamic font 'sans,12'";
  } else if (extension == ".png") {
    terminal = "png size 1000,700";
  } else {
    return Status::InvalidArgument("--plot " + path + ": the file must end in .svg or .png");
  }
  std::vector<std::string> resources = Resources(runs);
  std::string drawn = resource;
  if (std::find(resources.begin(), resources.end(), drawn) == resources.end()) {
    drawn = resources.empty() ? "" : resources.front();
  }
  std::string folder_template =
      (std::filesystem::temp_directory_path() / "rayk-sim-plot-XXXXXX").string();
  if (mkdtemp(folder_template.data()) == nullptr) {
    return Status::IoError("--plot: cannot make a temporary folder for gnuplot's data");
  }
  const std::filesystem::path folder = folder_template;
  std::string script = "set terminal " + terminal + "\nset output " + Quoted(path) +
                       "\nset multiplot layout 2,1\nset key outside right\nset grid\n"
                       "set xlabel 'simulated time (s)'\n";
  // A policy that takes far longer than the others would squash their lines
  // into a sliver: the axis then stops a little after the others end, and
  // the title says who runs on.
  std::vector<double> makespans;
  for (const PolicyRun& run : runs) makespans.push_back(run.result.makespan);
  std::sort(makespans.begin(), makespans.end());
  const double median = makespans.empty() ? 0 : makespans[(makespans.size() - 1) / 2];
  double shown = 0;
  std::string beyond;
  for (const PolicyRun& run : runs) {
    if (run.result.makespan <= 2 * median) {
      shown = std::max(shown, run.result.makespan);
    } else {
      beyond +=
          (beyond.empty() ? "" : ", ") + run.policy + " to " + Fixed(run.result.makespan, 0) + " s";
    }
  }
  double xmax = std::numeric_limits<double>::infinity();
  if (!beyond.empty() && shown > 0) {
    xmax = 1.2 * shown;
    script += "set xrange [0:" + Fixed(xmax, 3) + "]\nset title " +
              Quoted("(cut; runs on: " + beyond + ")") + "\n";
  }
  std::string utilization_plot = "set ylabel '" + drawn + " in use (%)'\nset yrange [0:100]\nplot ";
  std::string queue_plot = "set ylabel 'queued tasks'\nset autoscale y\nplot ";
  for (size_t i = 0; i < runs.size(); ++i) {
    const SimResult& r = runs[i].result;
    size_t column = std::find(r.resources.begin(), r.resources.end(), drawn) - r.resources.begin();
    const std::filesystem::path data = folder / ("policy" + std::to_string(i) + ".dat");
    std::ofstream out(data);
    // At most ~600 points per line keep the file small; the extremes of each
    // stretch would vanish with plain thinning, so each point is the mean.
    size_t visible = 0;
    while (visible < r.samples.size() && r.samples[visible].time <= xmax) ++visible;
    const size_t step = std::max<size_t>(1, visible / 600);
    for (size_t s = 0; s < visible; s += step) {
      double used = 0, queued = 0, time = 0;
      size_t n = std::min(step, visible - s);
      for (size_t k = s; k < s + n; ++k) {
        const Sample& sample = r.samples[k];
        if (column < sample.utilization.size()) used += sample.utilization[column];
        queued += static_cast<double>(sample.queued);
        time = sample.time;
      }
      out << time << " " << 100 * used / static_cast<double>(n) << " "
          << queued / static_cast<double>(n) << "\n";
    }
    if (!out) return Status::IoError("--plot: cannot write gnuplot's data to " + data.string());
    std::string sep = i == 0 ? "" : ", ";
    std::string title = Quoted(runs[i].policy);
    utilization_plot += sep + Quoted(data.string()) + " using 1:2 with lines lw 2 title " + title;
    queue_plot += sep + Quoted(data.string()) + " using 1:3 with lines lw 2 title " + title;
  }
  script += utilization_plot + "\n" + queue_plot + "\nunset multiplot\n";
  const std::filesystem::path script_path = folder / "plot.gp";
  std::ofstream(script_path) << script;
  const std::filesystem::path log_path = folder / "gnuplot.log";
  std::string command =
      "gnuplot " + Quoted(script_path.string()) + " > " + Quoted(log_path.string()) + " 2>&1";
  int rc = std::system(command.c_str());
  std::string log;
  if (rc != 0) {
    std::ifstream in(log_path);
    std::getline(in, log, '\0');
    while (!log.empty() && (log.back() == '\n' || log.back() == ' ')) log.pop_back();
    auto last = log.rfind('\n');
    if (last != std::string::npos) log = log.substr(last + 1);
  }
  std::error_code ignored;
  std::filesystem::remove_all(folder, ignored);
  if (rc == -1 || !WIFEXITED(rc)) return Status::Internal("--plot: cannot run gnuplot");
  if (WEXITSTATUS(rc) == 127) {
    return Status::NotFound(
        "--plot needs gnuplot, which is not installed; apt-get install gnuplot-nox "
        "(scripts/install-deps.sh installs it)");
  }
  if (WEXITSTATUS(rc) != 0) return Status::Internal("--plot: gnuplot failed: " + log);
  return Status::Ok();
}

}  // namespace rayk::sim
