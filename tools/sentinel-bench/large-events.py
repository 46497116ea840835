#!/usr/bin/python3
"""Events for the large stores of `make bench-large`, as JSON lines on stdout.

Event k (from --first on) is stamped origin + k * step, with what real
producers add: most are a second or two early or late, one in a thousand
is minutes late. Types follow a fixed mix: agent, monitor and system for
most, security and config now and then, error one in a thousand, never
"debug" (the suite asks for it, to time a type that is not there). Each
line is about 200 bytes, with a data object the README's audit queries
read (service, status, source_ip, step, action).

Usage: large-events.py --first K --count N --origin-us T --step-us S
"""

import argparse
import random
import sys
from datetime import datetime, timezone

MIX = (["agent"] * 40 + ["monitor"] * 30 + ["system"] * 20 + ["security"] * 5 + ["config"] * 4
       + ["error"] * 1)
SERVICES = ["postgresql", "redis", "nginx", "mongodb", "elasticsearch", "kafka", "rabbitmq"]
MESSAGES = {
    "agent": ("Diagnosticando servicio {s}", '"step":"diagnose","service":"{s}"'),
    "monitor": ("Servicio {s} no responde", '"service":"{s}","status":"{st}"'),
    "system": ("Ciclo de análisis completado 🚀", '"cycle":{k}'),
    "security": ("Intento de inicio de sesión fallido para el usuario admin",
                 '"action":"login_failed","source_ip":"203.0.113.{ip}"'),
    "config": ("Servicio '{s}' agregado al monitoreo.", '"service_name":"{s}","action":"added"'),
    "error": ("Error critico durante la ejecucion del agente: Connection timeout",
              '"error_type":"ConnectionTimeout","service":"{s}"'),
}


_second = [None, ""]


def iso(us):
    sec = us // 1_000_000
    if sec != _second[0]:  # neighbours share their second: format it once
        _second[0] = sec
        _second[1] = datetime.fromtimestamp(sec, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.")
    return f"{_second[1]}{us % 1_000_000:06d}Z"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--first", type=int, required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--origin-us", type=int, required=True)
    p.add_argument("--step-us", type=int, required=True)
    opt = p.parse_args()
    rnd = random.Random(opt.first)
    jitter = [rnd.randint(-2_000_000, 2_000_000) for _ in range(4099)]
    out = sys.stdout
    lines = []
    for k in range(opt.first, opt.first + opt.count):
        kind = MIX[k * 7919 % len(MIX)]
        ts = opt.origin_us + k * opt.step_us + jitter[k % 4099]
        if k % 1000 == 999:
            ts -= (60 + k % 840) * 1_000_000
        s = SERVICES[k % len(SERVICES)]
        message, data = MESSAGES[kind]
        data = data.format(s=s, st="stopped" if k % 3 else "running", k=k, ip=k % 250)
        lines.append(f'{{"type":"{kind}","message":"{message.format(s=s)}",'
                     f'"timestamp":"{iso(ts)}","data":{{{data},"seq":{k}}}}}\n')
        if len(lines) == 10000:
            out.write("".join(lines))
            lines = []
    out.write("".join(lines))


if __name__ == "__main__":
    main()
