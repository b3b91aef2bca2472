/*
 * benchmarks/torch_bench.cpp - libtorch (PyTorch's C++ API) counterparts of
 * ember-bench's workloads, for comparison without a Python interpreter in
 * the loop.
 *
 *   libtorch-bench [add|mlp-step|logreg-step|call|chain|epoch ...]
 *                  [--repeats N] [--batch N[,N...]] [--threads N] [--json]
 *                  [--smoke]
 *   libtorch-bench --time-to-accuracy [--epochs N] [--data DIR] [--seed N]
 *                  [--threads N]
 *
 * The workloads are those of benchmarks/torch_bench.py, written with the
 * C++ frontend: mode "libtorch" runs the ops one by one (torch::add,
 * torch::nn modules, torch::optim), mode "libtorch-script" calls TorchScript
 * compiled from source with torch::jit (a function, or a module holding the
 * parameters), as torch_bench.py's torch.jit.script rows do. The timing
 * method is ember-bench's (benchmarks/README.md, "Method") and the JSON
 * lines are its format. Not part of the CMake build: benchmarks/run.sh
 * compiles it when libtorch is installed.
 */
#include <torch/script.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

namespace
{

const char *const kWorkloads[] = {"add",  "mlp-step", "logreg-step",
                                  "call", "chain",    "epoch"};
const char *const kEager = "libtorch";
const char *const kScript = "libtorch-script";

struct Options {
    std::vector<std::string> workloads;
    std::vector<int64_t> batches{32, 128};
    int repeats = 7;
    int threads = 0;
    bool json = false;
    bool smoke = false;
    bool time_to_accuracy = false;
    int epochs = 5;
    std::string data = "/usr/share/datasets/fashion-mnist";
    uint64_t seed = 42;
};

/* One case: a loop that runs `iterations` iterations of the work. */
struct Case {
    std::string workload, mode, name, unit;
    double scale; /* seconds -> unit */
    std::function<void(int64_t)> loop;
    int64_t iterations = 1;
    std::vector<double> samples;
};

bool failed_check = false;

/* ---- timing -------------------------------------------------------------*/

double time_loop(const Case &c, int64_t iterations)
{
    auto start = std::chrono::steady_clock::now();
    c.loop(iterations);
    std::chrono::duration<double> d = std::chrono::steady_clock::now() - start;
    return d.count();
}

/* Warm-up doubles as calibration, as in ember-bench: the count doubles
 * until a loop takes 20 ms (caches, the allocator and the thread pool
 * settle meanwhile), then is scaled so that a loop takes about 100 ms.
 * Three untimed iterations come first: TorchScript profiles a function's
 * first call and optimises its graph on the next, and a slow first
 * iteration would end the calibration at once (ember's traced modes
 * compile before calibrating, too). */
void calibrate(const Options &o, Case &c)
{
    double warm = o.smoke ? 0.001 : 0.02;
    double target = o.smoke ? 0.002 : 0.1;
    c.loop(3);
    int64_t iterations = 1;
    double t = time_loop(c, iterations);
    while (t < warm) {
        iterations *= 2;
        t = time_loop(c, iterations);
    }
    iterations = (int64_t)std::ceil((double)iterations * target / t);
    c.iterations = std::max<int64_t>(iterations, 1);
}

double median(std::vector<double> s)
{
    std::sort(s.begin(), s.end());
    size_t mid = s.size() / 2;
    return s.size() % 2 ? s[mid] : 0.5 * (s[mid - 1] + s[mid]);
}

/* The cases take turns, one repeat each, so that a change in the machine's
 * load touches them alike; then one line per case. */
void measure(const Options &o, std::vector<Case> &cases)
{
    for (Case &c : cases)
        calibrate(o, c);
    for (int r = 0; r < o.repeats; r++)
        for (Case &c : cases)
            c.samples.push_back(time_loop(c, c.iterations) /
                                (double)c.iterations * c.scale);
    for (const Case &c : cases) {
        double med = median(c.samples);
        auto [lo, hi] = std::minmax_element(c.samples.begin(), c.samples.end());
        if (o.json)
            std::printf("{\"workload\":\"%s\",\"mode\":\"%s\",\"case\":\"%s\","
                        "\"unit\":\"%s\",\"median\":%.2f,\"min\":%.2f,"
                        "\"max\":%.2f,\"iterations\":%lld}\n",
                        c.workload.c_str(), c.mode.c_str(), c.name.c_str(),
                        c.unit.c_str(), med, *lo, *hi, (long long)c.iterations);
        else
            std::printf("%-12s %-16s %-16s %10.2f %10.2f %10.2f %s\n",
                        c.workload.c_str(), c.mode.c_str(), c.name.c_str(), med,
                        *lo, *hi, c.unit.c_str());
        std::fflush(stdout);
    }
}

Case make_case(const char *workload, const char *mode, std::string name,
               const char *unit, std::function<void(int64_t)> loop)
{
    static const std::pair<const char *, double> scales[] = {
        {"ns", 1e9}, {"us", 1e6}, {"ms", 1e3}};
    double scale = 1;
    for (const auto &s : scales)
        if (std::strcmp(s.first, unit) == 0)
            scale = s.second;
    return Case{workload, mode, std::move(name), unit, scale, std::move(loop),
                1,        {}};
}

/* Two modes must compute the same numbers for their times to compare. */
void report_check(const Options &o, const std::string &what,
                  const char *against, double worst)
{
    if (!(worst <= 1e-4)) {
        std::fprintf(stderr, "libtorch-bench: %s: differs from %s by %.3g\n",
                     what.c_str(), against, worst);
        failed_check = true;
    } else if (!o.json) {
        std::fprintf(stderr, "  %s matches %s (%.1e)\n", what.c_str(), against,
                     worst);
    }
}

double max_abs_diff(const torch::Tensor &a, const torch::Tensor &b)
{
    return (a.to(torch::kDouble) - b.to(torch::kDouble))
        .abs()
        .max()
        .item<double>();
}

/* ---- training steps -----------------------------------------------------*/

using Forward = std::function<torch::Tensor(const torch::Tensor &)>;
using Loss = torch::Tensor (*)(const torch::Tensor &, const torch::Tensor &);

torch::Tensor cross_entropy(const torch::Tensor &logits, const torch::Tensor &y)
{
    return torch::nn::functional::cross_entropy(logits, y);
}

torch::Tensor bce_with_logits(const torch::Tensor &logits,
                              const torch::Tensor &y)
{
    return torch::nn::functional::binary_cross_entropy_with_logits(logits, y);
}

/* A model, its optimiser and the batches it cycles through; step() is
 * torch_bench.py's: gradients set to none, forward, loss, backward, the
 * optimiser's step. */
struct Trainer {
    Forward forward;
    std::vector<torch::Tensor> params;
    std::shared_ptr<torch::optim::Optimizer> opt;
    std::vector<std::pair<torch::Tensor, torch::Tensor>> data;
    Loss loss_fn;
    size_t next = 0;

    torch::Tensor step()
    {
        const auto &batch = data[next++ % data.size()];
        /* Python's zero_grad(set_to_none=True); the C++ zero_grad of this
         * version fills the gradients with zeros instead. */
        for (torch::Tensor &p : params)
            p.mutable_grad() = torch::Tensor();
        torch::Tensor loss = loss_fn(forward(batch.first), batch.second);
        loss.backward();
        opt->step();
        return loss;
    }
};

std::function<void(int64_t)> step_loop(std::shared_ptr<Trainer> t)
{
    return [t](int64_t n) {
        for (int64_t i = 0; i < n; i++)
            t->step();
    };
}

/* The parameters of an eager model, detached copies: the TorchScript
 * module starts from the same values. */
std::vector<torch::Tensor> copy_params(const torch::nn::Module &m)
{
    std::vector<torch::Tensor> out;
    for (const torch::Tensor &p : m.parameters())
        out.push_back(p.detach().clone());
    return out;
}

/* A TorchScript module whose parameters are p0, p1, ... (copies of
 * values) and whose forward is src. */
std::shared_ptr<torch::jit::Module>
script_module(const std::vector<torch::Tensor> &values, const char *src)
{
    auto m = std::make_shared<torch::jit::Module>("Model");
    for (size_t i = 0; i < values.size(); i++)
        m->register_parameter("p" + std::to_string(i),
                              values[i].clone().requires_grad_(true), false);
    m->define(src);
    return m;
}

std::vector<torch::Tensor> module_params(torch::jit::Module &m)
{
    std::vector<torch::Tensor> out;
    for (const torch::Tensor &p : m.parameters())
        out.push_back(p);
    return out;
}

Forward script_forward(std::shared_ptr<torch::jit::Module> m)
{
    return [m](const torch::Tensor &x) { return m->forward({x}).toTensor(); };
}

/* Three steps of each from the same start: losses and parameters must
 * agree. */
void check_trainers(const Options &o, const std::string &what, Trainer &a,
                    Trainer &b)
{
    double worst = 0;
    for (int s = 0; s < 3; s++)
        worst = std::max(worst, max_abs_diff(a.step(), b.step()));
    for (size_t i = 0; i < a.params.size(); i++)
        worst = std::max(worst, max_abs_diff(a.params[i], b.params[i]));
    report_check(o, what + " " + kScript, kEager, worst);
}

/* ---- the workloads ------------------------------------------------------*/

/* c = a + b on [1] and [64,64]: without autograd, with it (a requires
 * grad: each add records a node, freed with its result), and as a
 * TorchScript function. */
void bench_add(const Options &o)
{
    auto cu = torch::jit::compile("def add(a, b):\n    return a + b\n");
    torch::jit::Function *scripted = &cu->get_function("add");
    std::vector<Case> cases;
    for (auto shape : {std::vector<int64_t>{1}, std::vector<int64_t>{64, 64}}) {
        std::string name = shape.size() == 1 ? "[1]" : "[64,64]";
        torch::Tensor a = torch::full(shape, 1.5);
        torch::Tensor b = torch::full(shape, 2.25);
        torch::Tensor a_grad = a.clone().requires_grad_(true);
        cases.push_back(make_case("add", kEager, name + " no tape", "ns",
                                  [a, b](int64_t n) {
                                      for (int64_t i = 0; i < n; i++)
                                          torch::add(a, b);
                                  }));
        cases.push_back(make_case("add", kEager, name + " tape", "ns",
                                  [a_grad, b](int64_t n) {
                                      for (int64_t i = 0; i < n; i++)
                                          torch::add(a_grad, b);
                                  }));
        cases.push_back(make_case("add", kScript, name + " no tape", "ns",
                                  [cu, scripted, a, b](int64_t n) {
                                      for (int64_t i = 0; i < n; i++)
                                          (*scripted)({a, b});
                                  }));
    }
    measure(o, cases);
}

const char *const kMlpForward = R"(
def forward(self, x):
    h = torch.relu(torch.linear(x, self.p0, self.p1))
    h = torch.relu(torch.linear(h, self.p2, self.p3))
    return torch.linear(h, self.p4, self.p5)
)";

std::vector<std::pair<torch::Tensor, torch::Tensor>> class_batches(int64_t n,
                                                                   int64_t b)
{
    std::vector<std::pair<torch::Tensor, torch::Tensor>> data;
    for (int64_t i = 0; i < n; i++)
        data.emplace_back(torch::rand({b, 784}), torch::randint(0, 10, {b}));
    return data;
}

/* One SGD-with-momentum step of the 784-256-128-10 ReLU MLP. */
void bench_mlp(const Options &o)
{
    namespace nn = torch::nn;
    for (int64_t batch : o.batches) {
        torch::manual_seed(1);
        nn::Sequential model(nn::Linear(784, 256), nn::ReLU(),
                             nn::Linear(256, 128), nn::ReLU(),
                             nn::Linear(128, 10));
        auto script = script_module(copy_params(*model), kMlpForward);
        auto data = class_batches(8, batch);
        auto sgd = torch::optim::SGDOptions(0.01).momentum(0.9);

        auto eager = std::make_shared<Trainer>();
        eager->forward = [m = model.ptr()](const torch::Tensor &x) {
            return m->forward(x);
        };
        eager->params = model->parameters();
        eager->opt = std::make_shared<torch::optim::SGD>(eager->params, sgd);
        eager->data = data;
        eager->loss_fn = cross_entropy;

        auto scripted = std::make_shared<Trainer>();
        scripted->forward = script_forward(script);
        scripted->params = module_params(*script);
        scripted->opt =
            std::make_shared<torch::optim::SGD>(scripted->params, sgd);
        scripted->data = data;
        scripted->loss_fn = cross_entropy;

        std::string name = "batch " + std::to_string(batch);
        check_trainers(o, "mlp-step " + name, *eager, *scripted);
        std::vector<Case> cases;
        cases.push_back(
            make_case("mlp-step", kEager, name, "us", step_loop(eager)));
        cases.push_back(
            make_case("mlp-step", kScript, name, "us", step_loop(scripted)));
        measure(o, cases);
    }
}

/* One plain-SGD step of a 784 -> 1 logistic regression. */
void bench_logreg(const Options &o)
{
    std::vector<Case> cases;
    for (int64_t batch : {1, 32}) {
        torch::manual_seed(1);
        torch::Tensor w =
            (torch::rand({784, 1}) * 0.1 - 0.05).requires_grad_(true);
        torch::Tensor b = torch::zeros({1}, torch::requires_grad());
        auto script = script_module({w.detach(), b.detach()}, R"(
def forward(self, x):
    return torch.matmul(x, self.p0) + self.p1
)");
        std::vector<std::pair<torch::Tensor, torch::Tensor>> data;
        for (int i = 0; i < 8; i++)
            data.emplace_back(
                torch::rand({batch, 784}),
                torch::randint(0, 2, {batch, 1}).to(torch::kFloat));

        auto eager = std::make_shared<Trainer>();
        eager->forward = [w, b](const torch::Tensor &x) {
            return torch::matmul(x, w) + b;
        };
        eager->params = {w, b};
        eager->opt = std::make_shared<torch::optim::SGD>(
            eager->params, torch::optim::SGDOptions(0.1));
        eager->data = data;
        eager->loss_fn = bce_with_logits;

        auto scripted = std::make_shared<Trainer>();
        scripted->forward = script_forward(script);
        scripted->params = module_params(*script);
        scripted->opt = std::make_shared<torch::optim::SGD>(
            scripted->params, torch::optim::SGDOptions(0.1));
        scripted->data = data;
        scripted->loss_fn = bce_with_logits;

        std::string name = "batch " + std::to_string(batch);
        check_trainers(o, "logreg-step " + name, *eager, *scripted);
        cases.push_back(
            make_case("logreg-step", kEager, name, "us", step_loop(eager)));
        cases.push_back(
            make_case("logreg-step", kScript, name, "us", step_loop(scripted)));
    }
    measure(o, cases);
}

/* A TorchScript module holding one add with a constant buffer, called
 * from C++, and the add itself. */
void bench_call(const Options &o)
{
    torch::Tensor x = torch::full({1}, 1.5);
    torch::Tensor c = torch::full({1}, 2.25);
    auto m = std::make_shared<torch::jit::Module>("AddC");
    m->register_buffer("c", c.clone());
    m->define("def forward(self, x):\n    return x + self.c\n");
    std::vector<Case> cases;
    cases.push_back(
        make_case("call", kEager, "[1] x + c", "ns", [x, c](int64_t n) {
            for (int64_t i = 0; i < n; i++)
                torch::add(x, c);
        }));
    cases.push_back(
        make_case("call", kScript, "[1] x + c", "ns", [m, x](int64_t n) {
            for (int64_t i = 0; i < n; i++)
                m->forward({x});
        }));
    measure(o, cases);
}

torch::Tensor chain(const torch::Tensor &x, const torch::Tensor &a,
                    const torch::Tensor &b)
{
    return (x * a + b).tanh() * x.sigmoid();
}

/* tanh(x * a + b) * sigmoid(x) on 2^20 float32, a and b 0-d tensors. */
void bench_chain(const Options &o)
{
    auto cu = torch::jit::compile(R"(
def chain(x, a, b):
    return (x * a + b).tanh() * x.sigmoid()
)");
    torch::jit::Function *scripted = &cu->get_function("chain");
    auto gen = torch::make_generator<at::CPUGeneratorImpl>(11);
    int64_t size = o.smoke ? 1024 : int64_t(1) << 20;
    torch::Tensor x = torch::rand({size}, gen) * 8 - 4;
    torch::Tensor a = torch::tensor(0.75f);
    torch::Tensor b = torch::tensor(-0.25f);
    std::string name = "2^20 float32";

    torch::Tensor xd = x.to(torch::kDouble);
    torch::Tensor want = (xd * 0.75 - 0.25).tanh() * xd.sigmoid();
    report_check(o, "chain " + std::string(kEager), "double",
                 max_abs_diff(chain(x, a, b), want));
    report_check(o, "chain " + std::string(kScript), "double",
                 max_abs_diff((*scripted)({x, a, b}).toTensor(), want));

    std::vector<Case> cases;
    cases.push_back(
        make_case("chain", kEager, name, "us", [x, a, b](int64_t n) {
            for (int64_t i = 0; i < n; i++)
                chain(x, a, b);
        }));
    cases.push_back(make_case("chain", kScript, name, "us",
                              [cu, scripted, x, a, b](int64_t n) {
                                  for (int64_t i = 0; i < n; i++)
                                      (*scripted)({x, a, b});
                              }));
    measure(o, cases);
}

/* One epoch of a 784-128-10 MLP (Adam 1e-3) over 4096 synthetic samples,
 * batch 128, one step per batch sliced from the whole set. */
void bench_epoch(const Options &o)
{
    namespace nn = torch::nn;
    const int64_t samples = 4096, batch = 128;
    std::vector<Case> cases;
    for (const char *mode : {kEager, kScript}) {
        torch::manual_seed(1);
        nn::Sequential model(nn::Linear(784, 128), nn::ReLU(),
                             nn::Linear(128, 10));
        auto t = std::make_shared<Trainer>();
        if (std::strcmp(mode, kEager) == 0) {
            t->forward = [m = model.ptr()](const torch::Tensor &x) {
                return m->forward(x);
            };
            t->params = model->parameters();
        } else {
            auto script = script_module(copy_params(*model), R"(
def forward(self, x):
    h = torch.relu(torch.linear(x, self.p0, self.p1))
    return torch.linear(h, self.p2, self.p3)
)");
            t->forward = script_forward(script);
            t->params = module_params(*script);
        }
        t->opt = std::make_shared<torch::optim::Adam>(
            t->params, torch::optim::AdamOptions(1e-3));
        torch::Tensor images = torch::rand({samples, 784});
        torch::Tensor labels = torch::randint(0, 10, {samples});
        for (int64_t i = 0; i < samples; i += batch)
            t->data.emplace_back(images.slice(0, i, i + batch),
                                 labels.slice(0, i, i + batch));
        t->loss_fn = cross_entropy;
        cases.push_back(
            make_case("epoch", mode, "per step", "ms", [t](int64_t n) {
                for (int64_t i = 0; i < n; i++)
                    for (size_t s = 0; s < t->data.size(); s++)
                        t->step();
            }));
    }
    measure(o, cases);
}

/* ---- time to accuracy ---------------------------------------------------*/

/* The dims and bytes of a gzip IDX file of unsigned bytes, read through
 * gzip(1) so that nothing but libtorch is linked. */
std::vector<uint8_t> read_idx(const std::string &path,
                              std::vector<int64_t> &dims)
{
    FILE *f = std::fopen(path.c_str(), "rb");
    if (!f)
        throw std::runtime_error(path + ": cannot open");
    std::fclose(f);
    std::string cmd = "gzip -dc '" + path + "'";
    FILE *p = popen(cmd.c_str(), "r");
    if (!p)
        throw std::runtime_error(path + ": cannot run gzip");
    std::vector<uint8_t> data;
    uint8_t buf[1 << 16];
    size_t got;
    while ((got = std::fread(buf, 1, sizeof buf, p)) > 0)
        data.insert(data.end(), buf, buf + got);
    int status = pclose(p);
    if (status != 0 || data.size() < 4 || data[0] || data[1] || data[2] != 0x08)
        throw std::runtime_error(path + ": not a gzip IDX file of bytes");
    size_t ndim = data[3], at = 4, count = 1;
    dims.clear();
    for (size_t i = 0; i < ndim && at + 4 <= data.size(); i++, at += 4) {
        dims.push_back((int64_t)data[at] << 24 | data[at + 1] << 16 |
                       data[at + 2] << 8 | data[at + 3]);
        count *= (size_t)dims.back();
    }
    if (dims.size() != ndim || data.size() - at != count)
        throw std::runtime_error(path + ": size does not match its header");
    return std::vector<uint8_t>(data.begin() + (long)at, data.end());
}

/* Images as [n, 784] float32 in [0, 1], labels as int64. */
std::pair<torch::Tensor, torch::Tensor>
load_set(const Options &o, const char *images, const char *labels)
{
    std::vector<int64_t> dims, ldims;
    std::vector<uint8_t> pix = read_idx(o.data + "/" + images, dims);
    std::vector<uint8_t> lab = read_idx(o.data + "/" + labels, ldims);
    if (dims.size() != 3 || ldims.size() != 1 || ldims[0] != dims[0])
        throw std::runtime_error(o.data + ": images and labels differ");
    torch::Tensor x = torch::from_blob(pix.data(), {dims[0], dims[1] * dims[2]},
                                       torch::kUInt8)
                          .to(torch::kFloat)
                          .div_(255.0);
    torch::Tensor y = torch::from_blob(lab.data(), {ldims[0]}, torch::kUInt8)
                          .to(torch::kLong);
    return {x, y};
}

/* torch_bench.py --time-to-accuracy in C++: the example's MLP (He-normal
 * weights, zero biases), Adam 1e-3 with a cosine schedule to 0 over every
 * step, batch 128, shuffled each epoch; one JSON line per epoch. */
void time_to_accuracy(const Options &o)
{
    namespace nn = torch::nn;
    const int64_t batch = 128;
    auto [x_train, y_train] =
        load_set(o, "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz");
    auto [x_test, y_test] =
        load_set(o, "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz");
    torch::manual_seed(o.seed);
    nn::Sequential model(nn::Linear(784, 256), nn::ReLU(), nn::Linear(256, 128),
                         nn::ReLU(), nn::Linear(128, 10));
    for (auto &layer : model->modules(false)) {
        if (auto *lin = layer->as<nn::Linear>()) {
            torch::NoGradGuard no_grad;
            nn::init::kaiming_normal_(lin->weight, 0.0, torch::kFanIn,
                                      torch::kReLU);
            nn::init::zeros_(lin->bias);
        }
    }
    std::vector<torch::Tensor> params = model->parameters();
    const double lr = 1e-3;
    torch::optim::Adam opt(params, torch::optim::AdamOptions(lr));
    int64_t n = x_train.size(0);
    int64_t steps = (n + batch - 1) / batch;
    int64_t total = steps * o.epochs, done = 0;
    auto gen = torch::make_generator<at::CPUGeneratorImpl>(o.seed);
    for (int epoch = 1; epoch <= o.epochs; epoch++) {
        auto start = std::chrono::steady_clock::now();
        torch::Tensor order = torch::randperm(n, gen);
        double loss_sum = 0;
        int64_t correct = 0;
        for (int64_t s = 0; s < steps; s++) {
            /* CosineAnnealingLR(T_max = every step, eta_min = 0), in its
             * closed form. */
            double rate = 0.5 * lr * (1 + std::cos(M_PI * done++ / total));
            for (auto &group : opt.param_groups())
                static_cast<torch::optim::AdamOptions &>(group.options())
                    .lr(rate);
            torch::Tensor idx = order.slice(0, s * batch, (s + 1) * batch);
            torch::Tensor x = x_train.index_select(0, idx);
            torch::Tensor y = y_train.index_select(0, idx);
            for (torch::Tensor &p : params)
                p.mutable_grad() = torch::Tensor();
            torch::Tensor out = model->forward(x);
            torch::Tensor loss = torch::nn::functional::cross_entropy(out, y);
            loss.backward();
            opt.step();
            loss_sum += loss.item<double>() * (double)idx.size(0);
            correct += (out.argmax(1) == y).sum().item<int64_t>();
        }
        std::chrono::duration<double> secs =
            std::chrono::steady_clock::now() - start;
        double test_acc;
        {
            torch::NoGradGuard no_grad;
            test_acc = (model->forward(x_test).argmax(1) == y_test)
                           .to(torch::kFloat)
                           .mean()
                           .item<double>();
        }
        std::printf("{\"epoch\":%d,\"mode\":\"%s\",\"loss\":%.6f,"
                    "\"train_accuracy\":%.6f,\"test_accuracy\":%.6f,"
                    "\"seconds\":%.3f,\"examples_per_second\":%.1f}\n",
                    epoch, kEager, loss_sum / (double)n,
                    (double)correct / (double)n, test_acc, secs.count(),
                    (double)n / secs.count());
        std::fflush(stdout);
    }
}

/* ---- main ---------------------------------------------------------------*/

void usage(FILE *f)
{
    std::fprintf(
        f, "usage: libtorch-bench [add|mlp-step|logreg-step|call|chain|epoch "
           "...]\n"
           "                      [--repeats N] [--batch N[,N...]] "
           "[--threads N] [--json] [--smoke]\n"
           "       libtorch-bench --time-to-accuracy [--epochs N] [--data "
           "DIR] [--seed N]\n"
           "\n"
           "Modes: libtorch (the C++ API, ops one by one) and "
           "libtorch-script (TorchScript\n"
           "compiled with torch::jit, called from C++). benchmarks/README.md "
           "defines the\n"
           "workloads and the method.\n");
}

bool parse_count(const char *text, int64_t &out)
{
    char *end;
    long long v = std::strtoll(text, &end, 10);
    if (end == text || *end || v < 1)
        return false;
    out = v;
    return true;
}

bool parse_args(int argc, char **argv, Options &o)
{
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        bool has_value = i + 1 < argc;
        int64_t v;
        if (std::find(std::begin(kWorkloads), std::end(kWorkloads), a) !=
            std::end(kWorkloads)) {
            o.workloads.push_back(a);
        } else if (a == "--json") {
            o.json = true;
        } else if (a == "--smoke") {
            o.smoke = true;
        } else if (a == "--time-to-accuracy") {
            o.time_to_accuracy = true;
        } else if (a == "--help" || a == "-h") {
            usage(stdout);
            std::exit(0);
        } else if (a == "--data" && has_value) {
            o.data = argv[++i];
        } else if (a == "--batch" && has_value) {
            o.batches.clear();
            std::string list = argv[++i];
            size_t at = 0;
            while (at <= list.size()) {
                size_t comma = std::min(list.find(',', at), list.size());
                if (!parse_count(list.substr(at, comma - at).c_str(), v))
                    return false;
                o.batches.push_back(v);
                at = comma + 1;
            }
        } else if ((a == "--repeats" || a == "--threads" || a == "--epochs" ||
                    a == "--seed") &&
                   has_value) {
            if (!parse_count(argv[++i], v))
                return false;
            if (a == "--seed")
                o.seed = (uint64_t)v;
            else if (v > 1000)
                return false;
            else
                (a == "--repeats"   ? o.repeats
                 : a == "--threads" ? o.threads
                                    : o.epochs) = (int)v;
        } else {
            return false;
        }
    }
    return true;
}

int run(const Options &o)
{
    if (o.threads > 0)
        torch::set_num_threads(o.threads);
    if (o.time_to_accuracy) {
        time_to_accuracy(o);
        return 0;
    }
    std::vector<std::string> work = o.workloads;
    if (work.empty())
        work.assign(std::begin(kWorkloads), std::end(kWorkloads));
    for (const std::string &w : work) {
        std::fprintf(stderr, "libtorch-bench: %s\n", w.c_str());
        if (w == "add")
            bench_add(o);
        else if (w == "mlp-step")
            bench_mlp(o);
        else if (w == "logreg-step")
            bench_logreg(o);
        else if (w == "call")
            bench_call(o);
        else if (w == "chain")
            bench_chain(o);
        else
            bench_epoch(o);
    }
    return failed_check ? 1 : 0;
}

} // namespace

int main(int argc, char **argv)
{
    Options o;
    if (!parse_args(argc, argv, o)) {
        usage(stderr);
        return 2;
    }
    try {
        return run(o);
    } catch (const std::exception &e) {
        std::fprintf(stderr, "libtorch-bench: %s\n", e.what());
        return 1;
    }
}
