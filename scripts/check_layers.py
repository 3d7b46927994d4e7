#!/usr/bin/python3
"""The include rules of the layering (docs/design.md "Layers"), checked over the source tree.

  core/        includes nothing from an architecture stack or the registry
  arm_gic/     never includes x86_pi/ and x86_pi/ never arm_gic/ (the stacks stand apart)
  */hw/        hardware models include no backend interface (core/backend.h) and nothing of the
               software above them (host/, kvm/, vmm/, guest/)
  */host/      the host layer (host CPUs' interrupt entry, Linux drivers) includes only hw/ and
               core/: KVM and the VMM register their handlers with it, it never calls up

Prints every include that breaks a rule, as FILE:LINE: what, and exits 1 if there is one.
"""
import os
import re
import sys

SOURCE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')

# (folder the including file is under, a test on the included path, what the rule says)
RULES = [
    ("core/", lambda inc: inc.split("/")[0] in ("arm_gic", "x86_pi", "registry"),
     "core/ must not include an architecture stack or the registry"),
    ("arm_gic/", lambda inc: inc.startswith("x86_pi/"), "the ARM stack must not include the x86 stack"),
    ("x86_pi/", lambda inc: inc.startswith("arm_gic/"), "the x86 stack must not include the ARM stack"),
]
ABOVE_HW = ("host", "kvm", "vmm", "guest")
ABOVE_HOST = ("kvm", "vmm", "guest")


def stack_part(path):
    """'hw', 'host', 'kvm', ... for a file of an architecture stack, else None."""
    parts = path.split("/")
    return parts[1] if len(parts) > 2 and parts[0] in ("arm_gic", "x86_pi") else None


def layer_rules(path, inc):
    """The stack-internal rules: what the hw/ and host/ folders may include."""
    mine, theirs = stack_part(path), stack_part(inc)
    if mine == "hw" and (theirs in ABOVE_HW or inc.split("/")[-1] == "machine.h"):
        return "a hardware model must not include the software above it"
    if mine == "host" and (theirs in ABOVE_HOST or inc.split("/")[-1] == "machine.h"):
        return "the host layer must not include KVM, the VMM, the guest or the machine (they register with it)"
    return None
HW_RULE = (lambda path: "/hw/" in path, lambda inc: inc == "core/backend.h",
           "a hardware model must not include the backend interface (locations are typed values)")


def problems():
    out = []
    for top in ("core", "arm_gic", "x86_pi"):
        for d, _, files in os.walk(os.path.join(SOURCE, top)):
            for f in sorted(files):
                if not f.endswith((".h", ".cc")):
                    continue
                path = os.path.relpath(os.path.join(d, f), SOURCE)
                with open(os.path.join(SOURCE, path)) as fh:
                    for n, line in enumerate(fh, 1):
                        m = INCLUDE.match(line)
                        if not m:
                            continue
                        inc = m.group(1)
                        for folder, breaks, why in RULES:
                            if path.startswith(folder) and breaks(inc):
                                out.append(f"{path}:{n}: includes {inc}: {why}")
                        why = layer_rules(path, inc)
                        if why:
                            out.append(f"{path}:{n}: includes {inc}: {why}")
                        if "--hw" in sys.argv and HW_RULE[0](path) and HW_RULE[1](inc):
                            out.append(f"{path}:{n}: includes {inc}: {HW_RULE[2]}")
    return out


if __name__ == "__main__":
    found = problems()
    for p in found:
        print(p)
    print(f"{len(found)} include(s) break the layering" if found else "the layering holds")
    sys.exit(1 if found else 0)
