#!/usr/bin/env python3
"""PyTorch counterparts of ember-bench's workloads, for comparison.

Times the same workloads as benchmarks/ember_bench.c with the same method
and prints the same JSON lines, with mode "torch-eager" (ops run one by
one) or "torch-script" (torch.jit.script):

    torch_bench.py [add|mlp-step|logreg-step|call|chain|epoch ...]
                   [--repeats N]
                   [--batch N[,N...]] [--threads N] [--json]
    torch_bench.py --time-to-accuracy [--epochs N] [--data DIR]
    torch_bench.py --self-test

--time-to-accuracy trains the example MLP (examples/fashion_mnist_mlp.c:
784-256-128-10 ReLU, Adam 1e-3 with a cosine schedule to 0, batch 128)
on Fashion-MNIST and prints one JSON line per epoch like the example's
--json. --self-test checks the parts that need no torch (timing,
statistics, JSON, the IDX reader) and exits. Needs torch otherwise;
numpy is not used.
"""

import argparse
import gzip
import json
import math
import os
import statistics
import struct
import sys
import time

WORKLOADS = ("add", "mlp-step", "logreg-step", "call", "chain", "epoch")
DATA_DIR = "/usr/share/datasets/fashion-mnist"

# The method of ember_bench.c: grow the loop until one run takes 20 ms,
# then scale it to about 100 ms per timed run.
CALIBRATE_S = 0.020
TARGET_S = 0.100
UNIT_SCALE = {"ns": 1e9, "us": 1e6, "ms": 1e3}


def run_loop(fn, iterations):
    """Seconds taken by `iterations` calls of fn."""
    start = time.perf_counter()
    for _ in range(iterations):
        fn()
    return time.perf_counter() - start


def calibrate(fn):
    """Iterations for one timed loop of about TARGET_S (also warms up)."""
    n = 1
    while True:
        t = run_loop(fn, n)
        if t >= CALIBRATE_S or n >= 1 << 30:
            break
        n *= 2
    per_iter = t / n
    return max(1, int(TARGET_S / per_iter)) if per_iter > 0 else n


def time_cases(cases, repeats):
    """Times cases that take turns, one repeat each, as ember-bench does.

    cases: list of dicts with fn, workload, mode, case, unit. Returns one
    result dict per case with median, min, max per iteration in its unit.
    """
    iters = [calibrate(c["fn"]) for c in cases]
    samples = [[] for _ in cases]
    for _ in range(repeats):
        for i, c in enumerate(cases):
            samples[i].append(run_loop(c["fn"], iters[i]) / iters[i])
    return [result(c, s, n) for c, s, n in zip(cases, samples, iters)]


def result(case, samples, iterations):
    scale = UNIT_SCALE[case["unit"]]
    return {
        "workload": case["workload"],
        "mode": case["mode"],
        "case": case["case"],
        "unit": case["unit"],
        "median": round(statistics.median(samples) * scale, 2),
        "min": round(min(samples) * scale, 2),
        "max": round(max(samples) * scale, 2),
        "iterations": iterations,
    }


def json_line(obj):
    """One compact JSON object, keys in the order given (ember's format)."""
    return json.dumps(obj, separators=(",", ":"))


def print_results(results, as_json):
    for r in results:
        if as_json:
            print(json_line(r), flush=True)
        else:
            print(
                "%-12s %-13s %-16s %10.2f %10.2f %10.2f %s"
                % (r["workload"], r["mode"], r["case"], r["median"],
                   r["min"], r["max"], r["unit"]),
                flush=True,
            )


def read_idx(path):
    """(dims, raw bytes) of a gzip IDX file of unsigned bytes."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08:
        raise ValueError("%s: not an IDX file of unsigned bytes" % path)
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    body = data[4 + 4 * ndim:]
    if len(body) != math.prod(dims):
        raise ValueError("%s: %d bytes for shape %s" % (path, len(body), dims))
    return dims, body


# --- the workloads (need torch) ----------------------------------------


def add_cases(torch):
    """c = a + b on [1] and [64,64], without and with autograd."""
    scripted = torch.jit.script(_add)
    cases = []
    for shape, name in (((1,), "[1]"), ((64, 64), "[64,64]")):
        a = torch.full(shape, 1.5)
        b = torch.full(shape, 2.25)
        a_grad = a.clone().requires_grad_(True)
        cases.append(case("add", "torch-eager", name + " no tape", "ns",
                          lambda a=a, b=b: torch.add(a, b)))
        # The autograd graph of each add is freed with its result.
        cases.append(case("add", "torch-eager", name + " tape", "ns",
                          lambda a=a_grad, b=b: torch.add(a, b)))
        cases.append(case("add", "torch-script", name + " no tape", "ns",
                          lambda a=a, b=b: scripted(a, b)))
    return [cases]


def _add(a, b):
    return a + b


def mlp_cases(torch, batches):
    """One SGD-with-momentum step of the 784-256-128-10 ReLU MLP."""
    nn = torch.nn
    groups = []
    for batch in batches:
        cases = []
        for mode in ("torch-eager", "torch-script"):
            torch.manual_seed(1)
            model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(),
                                  nn.Linear(256, 128), nn.ReLU(),
                                  nn.Linear(128, 10))
            if mode == "torch-script":
                model = torch.jit.script(model)
            opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
            data = [(torch.rand(batch, 784), torch.randint(0, 10, (batch,)))
                    for _ in range(8)]
            cases.append(case("mlp-step", mode, "batch %d" % batch, "us",
                              stepper(torch, model, opt, data,
                                      torch.nn.functional.cross_entropy)))
        groups.append(cases)
    return groups


def logreg_cases(torch):
    """One plain-SGD step of a 784 -> 1 logistic regression."""
    cases = []
    for batch in (1, 32):
        for mode in ("torch-eager", "torch-script"):
            torch.manual_seed(1)
            model = _LogReg(torch)
            if mode == "torch-script":
                model = torch.jit.script(model)
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            data = [(torch.rand(batch, 784),
                     torch.randint(0, 2, (batch, 1)).float())
                    for _ in range(8)]
            cases.append(case(
                "logreg-step", mode, "batch %d" % batch, "us",
                stepper(torch, model, opt, data,
                        torch.nn.functional.binary_cross_entropy_with_logits)))
    return [cases]


def _LogReg(torch):
    class LogReg(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.rand(784, 1) * 0.1 - 0.05)
            self.b = torch.nn.Parameter(torch.zeros(1))

        def forward(self, x):
            return x @ self.w + self.b

    return LogReg()


def call_cases(torch):
    """A scripted function holding one add on [1], and the add itself."""

    class AddC(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("c", torch.full((1,), 2.25))

        def forward(self, x):
            return x + self.c

    scripted = torch.jit.script(AddC())
    x = torch.full((1,), 1.5)
    c = torch.full((1,), 2.25)
    return [[case("call", "torch-eager", "[1] x + c", "ns",
                  lambda: torch.add(x, c)),
             case("call", "torch-script", "[1] x + c", "ns",
                  lambda: scripted(x))]]


def chain_cases(torch):
    """tanh(x * a + b) * sigmoid(x) on 2^20 float32, a and b 0-d tensors."""
    scripted = torch.jit.script(_chain)
    gen = torch.Generator().manual_seed(11)
    x = torch.rand(1 << 20, generator=gen) * 8 - 4
    a = torch.tensor(0.75)
    b = torch.tensor(-0.25)
    name = "2^20 float32"
    return [[case("chain", "torch-eager", name, "us",
                  lambda: _chain(x, a, b)),
             case("chain", "torch-script", name, "us",
                  lambda: scripted(x, a, b))]]


def _chain(x, a, b):
    # Tensor methods, so that scripting needs no torch global here.
    return (x * a + b).tanh() * x.sigmoid()


def epoch_cases(torch):
    """One epoch of a 784-128-10 MLP (Adam 1e-3) over 4096 synthetic
    samples, batch 128, one step per batch sliced from the whole set."""
    nn = torch.nn
    cases = []
    for mode in ("torch-eager", "torch-script"):
        torch.manual_seed(1)
        model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(),
                              nn.Linear(128, 10))
        if mode == "torch-script":
            model = torch.jit.script(model)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        images = torch.rand(4096, 784)
        labels = torch.randint(0, 10, (4096,))
        step = stepper(torch, model, opt,
                       [(images[i:i + 128], labels[i:i + 128])
                        for i in range(0, 4096, 128)],
                       torch.nn.functional.cross_entropy)

        def epoch(step=step):
            for _ in range(4096 // 128):
                step()

        cases.append(case("epoch", mode, "per step", "ms", epoch))
    return [cases]


def case(workload, mode, name, unit, fn):
    return {"workload": workload, "mode": mode, "case": name, "unit": unit,
            "fn": fn}


def stepper(torch, model, opt, data, loss_fn):
    """A training step cycling through the batches in data."""
    state = {"i": 0}

    def step():
        x, y = data[state["i"] % len(data)]
        state["i"] += 1
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        opt.step()

    return step


# --- time to accuracy --------------------------------------------------


def time_to_accuracy(torch, data_dir, epochs, batch, seed):
    """Trains the example MLP, one JSON line per epoch (training seconds)."""
    nn = torch.nn

    def load(images, labels):
        dims, pix = read_idx(os.path.join(data_dir, images))
        _, lab = read_idx(os.path.join(data_dir, labels))
        x = torch.frombuffer(bytearray(pix), dtype=torch.uint8)
        x = x.reshape(dims[0], dims[1] * dims[2]).float() / 255.0
        y = torch.frombuffer(bytearray(lab), dtype=torch.uint8).long()
        return x, y

    x_train, y_train = load("train-images-idx3-ubyte.gz",
                            "train-labels-idx1-ubyte.gz")
    x_test, y_test = load("t10k-images-idx3-ubyte.gz",
                          "t10k-labels-idx1-ubyte.gz")
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(),
                          nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))
    for layer in model:
        if isinstance(layer, nn.Linear):  # He normal, zero bias
            nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
            nn.init.zeros_(layer.bias)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    n = x_train.shape[0]
    steps = (n + batch - 1) // batch
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps * epochs,
                                                       eta_min=0.0)
    gen = torch.Generator().manual_seed(seed)
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        order = torch.randperm(n, generator=gen)
        loss_sum = 0.0
        correct = 0
        for s in range(steps):
            idx = order[s * batch:(s + 1) * batch]
            x, y = x_train[idx], y_train[idx]
            opt.zero_grad(set_to_none=True)
            out = model(x)
            loss = nn.functional.cross_entropy(out, y)
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += loss.item() * len(idx)
            correct += (out.argmax(1) == y).sum().item()
        seconds = time.perf_counter() - start
        with torch.no_grad():
            test_acc = (model(x_test).argmax(1) == y_test).float().mean()
        print(json_line({
            "epoch": epoch, "mode": "torch-eager",
            "loss": round(loss_sum / n, 6),
            "train_accuracy": round(correct / n, 6),
            "test_accuracy": round(test_acc.item(), 6),
            "seconds": round(seconds, 3),
            "examples_per_second": round(n / seconds, 1),
        }), flush=True)


# --- self-test (no torch) ----------------------------------------------


def self_test(data_dir):
    """Checks the torch-free parts; prints what it checked."""
    counter = {"n": 0}

    def tick():
        counter["n"] += 1

    cases = [case("self-test", "python", "counter", "ns", tick),
             case("self-test", "python", "sum 100", "us",
                  lambda: sum(range(100)))]
    results = time_cases(cases, 3)
    for r in results:
        assert r["min"] <= r["median"] <= r["max"], r
        assert r["iterations"] >= 1 and r["min"] > 0, r
        line = json_line(r)
        back = json.loads(line)
        assert list(back) == ["workload", "mode", "case", "unit", "median",
                              "min", "max", "iterations"], line
        print(line)
    r = result(case("w", "m", "[64,64] tape", "ns", None), [3e-9, 1e-9, 2e-9],
               5)
    assert (r["median"], r["min"], r["max"]) == (2.0, 1.0, 3.0), r
    assert json_line(r).startswith('{"workload":"w","mode":"m",'
                                   '"case":"[64,64] tape","unit":"ns",')
    path = os.path.join(data_dir, "t10k-labels-idx1-ubyte.gz")
    if os.path.exists(path):
        dims, body = read_idx(path)
        assert dims == (10000,) and max(body) == 9, dims
        dims, body = read_idx(os.path.join(data_dir,
                                           "t10k-images-idx3-ubyte.gz"))
        assert dims == (10000, 28, 28), dims
        print("idx: %s ok" % data_dir)
    else:
        print("idx: %s missing, reader not checked" % data_dir)
    print("self-test ok")


def main():
    p = argparse.ArgumentParser(
        description="PyTorch counterparts of ember-bench's workloads.")
    p.add_argument("workloads", nargs="*", metavar="WORKLOAD",
                   help="add, mlp-step, logreg-step, call, chain, epoch "
                   "(default: all)")
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--batch", default="32,128", help="mlp-step batch sizes")
    p.add_argument("--threads", type=int, help="torch.set_num_threads")
    p.add_argument("--json", action="store_true")
    p.add_argument("--time-to-accuracy", action="store_true")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--data", default=DATA_DIR)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--self-test", action="store_true")
    args = p.parse_args()
    for w in args.workloads:
        if w not in WORKLOADS:
            p.error("unknown workload %r (%s)" % (w, ", ".join(WORKLOADS)))
    workloads = args.workloads or list(WORKLOADS)

    if args.self_test:
        self_test(args.data)
        return 0
    try:
        import torch
    except ImportError:
        print("torch_bench: torch is not installed", file=sys.stderr)
        return 3
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.time_to_accuracy:
        time_to_accuracy(torch, args.data, args.epochs, 128, args.seed)
        return 0
    batches = [int(b) for b in args.batch.split(",") if b]
    for w in workloads:
        print("torch_bench: %s" % w, file=sys.stderr)
        if w == "add":
            groups = add_cases(torch)
        elif w == "mlp-step":
            groups = mlp_cases(torch, batches)
        elif w == "logreg-step":
            groups = logreg_cases(torch)
        elif w == "chain":
            groups = chain_cases(torch)
        elif w == "epoch":
            groups = epoch_cases(torch)
        else:
            groups = call_cases(torch)
        for cases in groups:
            print_results(time_cases(cases, args.repeats), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
