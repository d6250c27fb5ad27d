"""Idle memory and cold start of the desktop app, as users run it (a release build made by
`tauri build --no-bundle`). Runs inside an X server and a D-Bus session (`scripts/bench`
wraps it in `xvfb-run` and `dbus-run-session`) and prints one JSON object on stdout.

usage: python3 scripts/lib/desktop_figures.py APP [--idle-seconds 30] [--cold-runs 5]
                 [--skip memory|startup] [--model GGUF] [--output FILE]

Each launch gets a new empty data directory with the offline model (the file
scripts/fetch-model puts in ~/.local/share/switchboard/models, or --model) linked into its
models/ folder, as after `scripts/setup`: with no provider configured the app starts as the
offline demo and loads that model. Idle memory is also measured once without the file.

Idle memory: the app starts on an empty temporary data directory; once its window is mapped
and its WebKit web process exists, it is left alone for --idle-seconds, then PSS and RSS of
the app and every descendant process (WebKitWebProcess, WebKitNetworkProcess, the sandbox
helpers) are read from /proc/PID/smaps_rollup. PSS is the headline: it splits shared pages
(the WebKit libraries) between the processes that map them, so the sum is what the app
costs the machine; the RSS sum counts those pages once per process.

Cold start: tauri-driver (WebDriver) launches the app, each time on a new empty data
directory. The clock starts at the app process's start time (/proc/PID/stat, 10 ms ticks)
and stops when the page has its navigation and the health indicator reports the engine
connected, which needs the window's first IPC round trip to have completed: the console
can be used from then on. The page is polled every 20 ms, and a poll costs about 5 ms,
so the figure is high by up to ~25 ms. The disk cache is warm (it cannot be dropped here).
"""
import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

WINDOW_TITLE = "Switchboard"
TICKS = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def app_env(api_port):
    env = dict(os.environ)
    # A token in the environment keeps the app off the OS keyring, which a bare D-Bus
    # session does not have; the port keeps it off anyone else's app on this machine.
    env["SWITCHBOARD_API_TOKEN"] = f"bench-{os.getpid()}-{time.time_ns()}"
    env["SWITCHBOARD_SERVER__LISTEN"] = f"127.0.0.1:{api_port}"
    env["SWITCHBOARD_LOG__LEVEL"] = "warn"
    return env


def stat_fields(pid):
    with open(f"/proc/{pid}/stat") as f:
        rest = f.read().rsplit(")", 1)[1].split()
    # rest[0] is the state (field 3); ppid is field 4, utime/stime 14/15, starttime 22.
    return {
        "ppid": int(rest[1]),
        "cpu_ticks": int(rest[11]) + int(rest[12]),
        "start": int(rest[19]) / TICKS,
    }


def comm(pid):
    """The program's file name (comm is cut at 15 characters: "WebKitWebProces")."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv0 = f.read().split(b"\0", 1)[0].decode(errors="replace")
        if argv0:
            return os.path.basename(argv0)
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return "?"


def descendants(root):
    """The root and every process below it, by walking parent links in /proc."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                children.setdefault(stat_fields(int(entry))["ppid"], []).append(int(entry))
            except (OSError, IndexError, ValueError):
                pass  # the process ended while we looked
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def rollup(pid):
    """Pss and Rss in KiB from smaps_rollup; None for a process that ended or a zombie."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            text = f.read()
    except OSError:
        return None
    values = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] in ("Rss:", "Pss:"):
            values[parts[0][:-1].lower()] = int(parts[1])
    return values if "pss" in values else None


def window_mapped():
    out = subprocess.run(
        ["xwininfo", "-root", "-tree"], capture_output=True, text=True, check=False
    ).stdout
    return any(f'"{WINDOW_TITLE}"' in line and "x" in line for line in out.splitlines())


def maps_model(pid):
    try:
        with open(f"/proc/{pid}/maps") as f:
            return any(line.rstrip().endswith(".gguf") for line in f)
    except OSError:
        return False


def wait_for(what, probe, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = probe()
        if value:
            return value
        time.sleep(0.1)
    raise RuntimeError(f"timed out after {timeout} s waiting for {what}")


def new_data_dir(prefix, model):
    """An empty data directory, with the offline model linked in where setup puts it, so
    the app starts as a user's does after `scripts/setup` (the offline demo)."""
    data_dir = tempfile.mkdtemp(prefix=prefix)
    if model:
        os.mkdir(os.path.join(data_dir, "models"))
        os.symlink(model, os.path.join(data_dir, "models", os.path.basename(model)))
    return data_dir


def idle_memory(app, idle_seconds, model):
    data_dir = new_data_dir("sb-bench-idle-", model)
    log = tempfile.NamedTemporaryFile(prefix="sb-bench-idle-", suffix=".log", delete=False, mode="w")
    proc = subprocess.Popen(
        [app, "--data-dir", data_dir],
        env=app_env(free_port()),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for("the window", lambda: proc.poll() is None and window_mapped(), 120)
        wait_for(
            "WebKitWebProcess",
            lambda: any(comm(p).startswith("WebKitWebProces") for p in descendants(proc.pid)),
            60,
        )
        if proc.poll() is not None:
            raise RuntimeError(f"the app exited with {proc.returncode}")
        # Idle CPU over the last third of the idle time, to show it is really idle.
        time.sleep(idle_seconds * 2 / 3)
        tree = descendants(proc.pid)
        cpu0 = sum(stat_fields(p)["cpu_ticks"] for p in tree if os.path.exists(f"/proc/{p}"))
        t0 = time.monotonic()
        time.sleep(idle_seconds / 3)
        tree = descendants(proc.pid)
        cpu1 = sum(stat_fields(p)["cpu_ticks"] for p in tree if os.path.exists(f"/proc/{p}"))
        idle_cpu = (cpu1 - cpu0) / TICKS / (time.monotonic() - t0)
        processes = []
        for pid in tree:
            r = rollup(pid)
            if r:
                processes.append({"pid": pid, "name": comm(pid), "pss_kib": r["pss"], "rss_kib": r.get("rss", 0)})
        if proc.poll() is not None:
            raise RuntimeError(f"the app exited with {proc.returncode} while idle")
        return {
            "idle_seconds": idle_seconds,
            "pss_mib": sum(p["pss_kib"] for p in processes) / 1024,
            "rss_mib": sum(p["rss_kib"] for p in processes) / 1024,
            "idle_cpu_percent": idle_cpu * 100,
            "model_mapped": maps_model(proc.pid),
            "processes": processes,
        }
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
        shutil.rmtree(data_dir, ignore_errors=True)
        print(f"app log: {log.name}", file=sys.stderr)


class WebDriver:
    def __init__(self, base):
        self.base = base

    def call(self, method, path, body=None, timeout=60):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.base + path, data=data, method=method, headers={"content-type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return json.load(response)["value"]
        except urllib.error.HTTPError as e:
            raise RuntimeError(f"{method} {path}: {e.code} {e.read()[:300]!r}") from None


READY = """
const nav = document.querySelector('nav');
const health = document.querySelector('.health');
return !!(nav && nav.querySelectorAll('a,button').length >= 5 && health && health.dataset.status === 'connected');
"""


def app_pid(app, after):
    """The newest process running APP that started at or after `after` (boot-time seconds)."""
    real = os.path.realpath(app)
    found = None
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{entry}/exe") != real:
                continue
            start = stat_fields(int(entry))["start"]
        except OSError:
            continue
        if start >= after - 0.01 and (found is None or start > found[1]):
            found = (int(entry), start)
    return found


def cold_start(app, runs, model):
    driver_port, native_port, api_port = free_port(), free_port(), free_port()
    log = tempfile.NamedTemporaryFile(prefix="sb-bench-driver-", suffix=".log", delete=False)
    driver = subprocess.Popen(
        ["tauri-driver", "--port", str(driver_port), "--native-port", str(native_port)],
        env=app_env(api_port),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    wd = WebDriver(f"http://127.0.0.1:{driver_port}")
    samples = []
    try:
        wait_for("tauri-driver", lambda: _status_ok(wd), 30)
        for _ in range(runs):
            data_dir = new_data_dir("sb-bench-cold-", model)
            t_request = time.clock_gettime(time.CLOCK_BOOTTIME)
            session = wd.call(
                "POST",
                "/session",
                {"capabilities": {"alwaysMatch": {"tauri:options": {"application": app, "args": ["--data-dir", data_dir]}}}},
                timeout=120,
            )
            sid = session["sessionId"]
            try:
                end = time.monotonic() + 120
                while True:
                    try:
                        if wd.call("POST", f"/session/{sid}/execute/sync", {"script": READY, "args": []}, 30):
                            break
                    except RuntimeError:
                        pass  # the page is still loading: no document to run in yet
                    if time.monotonic() > end:
                        try:
                            where = wd.call("POST", f"/session/{sid}/execute/sync", {"script": "return location.href + ' | ' + document.title + ' | ' + document.body.innerText.slice(0, 200)", "args": []}, 10)
                        except RuntimeError as e:
                            where = str(e)
                        raise RuntimeError(f"the console did not become interactive in 120 s: {where}")
                    time.sleep(0.02)
                t_ready = time.clock_gettime(time.CLOCK_BOOTTIME)
                spawned = app_pid(app, t_request)
                if spawned is None:
                    raise RuntimeError("could not find the app's process")
                samples.append({"spawn_to_interactive_ms": (t_ready - spawned[1]) * 1000,
                                "session_request_to_interactive_ms": (t_ready - t_request) * 1000})
            finally:
                wd.call("DELETE", f"/session/{sid}")
                # Wait for the app to be gone so the next launch is a cold one.
                wait_for("the app to exit", lambda: app_pid(app, t_request) is None, 30)
                shutil.rmtree(data_dir, ignore_errors=True)
            time.sleep(2)
    finally:
        os.killpg(driver.pid, signal.SIGTERM)
        try:
            driver.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(driver.pid, signal.SIGKILL)
            driver.wait()
        print(f"tauri-driver log: {log.name}", file=sys.stderr)
    values = [s["spawn_to_interactive_ms"] for s in samples]
    return {
        "runs": runs,
        "median_ms": statistics.median(values),
        "min_ms": min(values),
        "max_ms": max(values),
        "samples": samples,
    }


def _status_ok(wd):
    try:
        wd.call("GET", "/status", timeout=2)
        return True
    except (OSError, RuntimeError):
        return False


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("app")
    parser.add_argument("--idle-seconds", type=float, default=30)
    parser.add_argument("--cold-runs", type=int, default=5)
    parser.add_argument("--output", help="write the JSON there (stdout also carries the D-Bus services' chatter)")
    parser.add_argument("--skip", action="append", default=[], choices=["memory", "startup"])
    default_model = os.path.expanduser("~/.local/share/switchboard/models/SmolLM2-135M-Instruct.Q4_1.gguf")
    parser.add_argument(
        "--model",
        default=default_model if os.path.isfile(default_model) else "",
        help="GGUF file to link into each data directory (default: the one scripts/fetch-model puts in ~/.local/share; empty for none)",
    )
    args = parser.parse_args()
    app = os.path.realpath(args.app)
    if not os.access(app, os.X_OK):
        sys.exit(f"not an executable: {app}")
    model = os.path.realpath(args.model) if args.model else ""
    result = {"app": app, "model": model}
    if "memory" not in args.skip:
        result["idle_memory"] = idle_memory(app, args.idle_seconds, model)
        print(f"idle memory: {result['idle_memory']['pss_mib']:.0f} MiB PSS", file=sys.stderr)
        if model:
            # The same without the model file: what the window and engine cost on their own.
            result["idle_memory_no_model"] = idle_memory(app, args.idle_seconds, "")
            print(f"idle memory without a model: {result['idle_memory_no_model']['pss_mib']:.0f} MiB PSS", file=sys.stderr)
    if "startup" not in args.skip:
        result["cold_start"] = cold_start(app, args.cold_runs, model)
        print(f"cold start: median {result['cold_start']['median_ms']:.0f} ms", file=sys.stderr)
    text = json.dumps(result, indent=1) + "\n"
    if args.output:
        with open(args.output, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
