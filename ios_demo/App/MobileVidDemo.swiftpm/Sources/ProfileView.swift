// Per-component latency of the last generation and "Export profile JSON" (mobilevid.profile v1, which
// `mobilevid profile --bundle DIR --device-json FILE` prints beside the Linux/Mac numbers).
// NOT built or run on the Linux machines that test the package.
import MobileVidCore
import SwiftUI

struct ProfileView: View {
    @EnvironmentObject var model: AppModel

    var body: some View {
        NavigationStack {
            List {
                if let report = model.report {
                    let object = report.jsonObject()
                    let components = object["components"] as? [String: [String: Any]] ?? [:]
                    Section("Per component (ms)") {
                        ForEach(LatencyReport.components, id: \.self) { name in
                            if let c = components[name] {
                                VStack(alignment: .leading) {
                                    Text(name).font(.headline)
                                    Text(String(format: "median %.1f · p90 %.1f · %d call(s) per video",
                                                c["median_ms"] as? Double ?? 0, c["p90_ms"] as? Double ?? 0,
                                                c["calls_per_video"] as? Int ?? 0))
                                    if let peak = c["peak_rss_mb"] as? Double {
                                        Text(String(format: "peak memory %.0f MB", peak)).foregroundStyle(.secondary)
                                    }
                                    if let load = c["load_ms"] as? Double {
                                        Text(String(format: "load %.0f ms", load)).foregroundStyle(.secondary)
                                    }
                                }
                            }
                        }
                    }
                    if let video = object["video"] as? [String: Any], let total = video["total_ms"] as? Double {
                        Section("Per video") {
                            Text(String(format: "%.0f ms", total)).font(.title2)
                            Text(video["formula"] as? String ?? "").foregroundStyle(.secondary)
                        }
                    }
                    Section("Device") {
                        Text("\(report.device.name), \(report.device.platform)")
                        Text("compute units: \(report.device.computeUnits)")
                    }
                    if let url = model.profileURL {
                        ShareLink(item: url) { Label("Export profile JSON", systemImage: "square.and.arrow.up") }
                    }
                } else {
                    Text("Generate a video first: its timings appear here.")
                }
            }
            .navigationTitle("Profile")
        }
    }
}
