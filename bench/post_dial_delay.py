"""Post-dial delay of a 12345 call through the controller vs a static dialplan.

Both paths answer and play the same greeting; the only difference is the FastAGI
routing decision. Calls alternate between the two paths so drift affects both
alike. Reports INVITE->200 OK and INVITE->first prompt audio (median, p95) and
the ratio controller/static.

    .venv/bin/python bench/post_dial_delay.py [--calls 40]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hotline_sandbox import api  # noqa: E402
from testkit.controller import ControllerProcess  # noqa: E402
from testkit.sipprobe import timed_call  # noqa: E402


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=40, help="calls per path")
    args = parser.parse_args()
    t0 = time.perf_counter()
    state = api.up()
    print(f"sandbox up in {time.perf_counter() - t0:.2f}s", flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="bench-pdd-"))
    controller = ControllerProcess(REPO, tmp / "run", tmp / "controller.log", extra_env={
        "HOTLINE_AMI_SECRET": state.ami_secret, "HOTLINE_AMI_USER": state.ami_user,
        "HOTLINE_AMI_PORT": str(state.ami_port)})
    controller.start()
    results: dict[str, dict[str, list[float]]] = {
        "controller": {"to_200_ms": [], "to_audio_ms": []},
        "static": {"to_200_ms": [], "to_audio_ms": []},
    }
    try:
        for i in range(args.calls):
            for path, number in (("controller", "12345"), ("static", "static-12345")):
                timing = timed_call(number, port=state.sip_port)
                results[path]["to_200_ms"].append(timing.to_200_ms)
                if timing.to_first_audio_ms is not None:
                    results[path]["to_audio_ms"].append(timing.to_first_audio_ms)
            print(f"\r{i + 1}/{args.calls} call pairs", end="", flush=True)
            time.sleep(0.2)
        print()
    finally:
        controller.stop()
    summary: dict[str, object] = {"calls_per_path": args.calls}
    for metric in ("to_200_ms", "to_audio_ms"):
        c, s = results["controller"][metric], results["static"][metric]
        row = {"controller_median": statistics.median(c), "controller_p95": pct(c, 0.95),
               "static_median": statistics.median(s), "static_p95": pct(s, 0.95),
               "ratio_median": statistics.median(c) / statistics.median(s),
               "added_median_ms": statistics.median(c) - statistics.median(s)}
        summary[metric] = row
        print(f"{metric:12s} controller median {row['controller_median']:7.1f} ms "
              f"(p95 {row['controller_p95']:7.1f})  static median {row['static_median']:7.1f} ms "
              f"(p95 {row['static_p95']:7.1f})  ratio {row['ratio_median']:.2f}  "
              f"added {row['added_median_ms']:+.1f} ms")
    out = REPO / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "post_dial_delay.json").write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
