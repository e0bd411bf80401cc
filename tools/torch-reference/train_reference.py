"""PyTorch reference of the project's multi-task networks, for the speed comparison of issue #16.

One epoch over a folder written by `generate` (train.csv, schema.json), with the shapes `bench train` uses:
16 categorical fields x 16 (sparse embeddings, Adagrad 0.05), the 8 dense features standardized, batch 2048,
dense parameters by Adam 1e-3; tasks ctr (BCE on every row), cvr (BCE on clicked rows; ESMM: the product on every
row) and rating (1 + 4 sigmoid, MSE on rated rows, weight 0.1); in training a tower whose loss reads only some rows
runs on those (conversions on clicked rows outside ESMM, ratings on rated rows; in MMoE the task's gate too), as the
project's engine does. Prints one JSON object: training samples/s of the
training steps alone (data loading and featurization excluded), inference rows/s on in-memory batches of 8192 (the best
of six half-second windows), the
dense parameter count (to check the shapes against the project's), and the machine's SGEMM through torch on the
same threads.

Run by compare.sh; not part of .ci/run. Needs Debian's python3-torch (with libopenblas0-pthread as the BLAS).
"""
import csv, json, math, os, sys, time

import numpy as np
import torch
from torch import nn


def load(folder, rows):
    schema = json.load(open(os.path.join(folder, "schema.json")))
    categorical = [schema["user"], schema["item"]] + schema["categorical"]
    dense = schema["dense"]
    ids = [dict() for _ in categorical]
    cat, num, click, conv, rating = [], [], [], [], []
    with open(os.path.join(folder, "train.csv"), newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        ci = [header.index(c) for c in categorical]
        di = [header.index(c) for c in dense]
        li = [header.index(c) for c in ("click", "conversion", "rating")]
        for n, row in enumerate(reader):
            if n >= rows:
                break
            # key 0 is the unknown value, as in the project's vocabularies
            cat.append([ids[j].setdefault(row[i], len(ids[j]) + 1) for j, i in enumerate(ci)])
            num.append([float(row[i]) if row[i] not in ("", "NA") else math.nan for i in di])
            click.append(float(row[li[0]]))
            conv.append(float(row[li[1]]))
            rating.append(float(row[li[2]]) if row[li[2]] else math.nan)
    num = np.array(num, dtype=np.float32)
    mean = np.nanmean(num, axis=0)
    num = np.where(np.isnan(num), mean, num)
    num = (num - num.mean(axis=0)) / (num.std(axis=0) + 1e-6)
    return (torch.tensor(np.array(cat, dtype=np.int64)), torch.tensor(num), torch.tensor(click), torch.tensor(conv),
            torch.tensor(np.array(rating, dtype=np.float32)), [len(d) + 1 for d in ids])


def mlp(sizes, linear_last=False):
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if not (linear_last and i == len(sizes) - 2):
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class Model(nn.Module):
    def __init__(self, architecture, table_rows, dim=16, dense=8, tasks=3):
        super().__init__()
        self.architecture = architecture
        self.embeddings = nn.ModuleList(nn.Embedding(r, dim, sparse=True) for r in table_rows)
        for e in self.embeddings:
            nn.init.normal_(e.weight, std=0.01)
        width = len(table_rows) * dim + dense
        if architecture == "SharedBottom":
            self.bottom = mlp([width, 256, 128])
            self.towers = nn.ModuleList(mlp([128, 64, 1], linear_last=True) for _ in range(tasks))
        elif architecture == "Esmm":
            self.towers = nn.ModuleList(mlp([width, 256, 128, 64, 1], linear_last=True) for _ in range(tasks))
        elif architecture == "Mmoe":
            self.experts = nn.ModuleList(mlp([width, 256, 128]) for _ in range(4))
            self.gates = nn.ModuleList(nn.Linear(width, 4) for _ in range(tasks))
            self.towers = nn.ModuleList(mlp([128, 64, 1], linear_last=True) for _ in range(tasks))
        else:
            raise SystemExit(f"unknown architecture {architecture}")

    def dense_parameters(self):
        return [p for name, p in self.named_parameters() if not name.startswith("embeddings.")]

    def forward(self, cat, num, rows=None):
        """Each task's logits; `rows` (training) gives, per task, the rows its tower runs on (None: every row), as the
        project's engine does for a task whose loss reads only the rows where it is defined."""
        rows = rows or [None] * len(self.towers)
        pick = lambda h, r: h if r is None else h[r]
        x = torch.cat([e(cat[:, f]) for f, e in enumerate(self.embeddings)] + [num], dim=1)
        if self.architecture == "SharedBottom":
            h = self.bottom(x)
            return [t(pick(h, r)) for t, r in zip(self.towers, rows)]
        if self.architecture == "Esmm":
            return [t(pick(x, r)) for t, r in zip(self.towers, rows)]
        experts = torch.stack([e(x) for e in self.experts], dim=1)                     # [B, 4, 128]
        return [t((torch.softmax(g(pick(x, r)), dim=1).unsqueeze(2) * pick(experts, r)).sum(1)) for g, t, r in zip(self.gates, self.towers, rows)]


def defined_rows(architecture, click, rating):
    """The rows each task's loss reads where that is not every row: conversions on clicked rows (ESMM: every row, through
    the product) and ratings on rated rows."""
    return [None, None if architecture == "Esmm" else click > 0, ~torch.isnan(rating)]


def loss_of(architecture, logits, click, conv, rating):
    """The joint loss from the logits of forward(..., rows=defined_rows(...))."""
    z_ctr, z_cvr, z_rating = (l.squeeze(1) for l in logits)
    bce = nn.functional.binary_cross_entropy_with_logits
    loss = bce(z_ctr, click)
    if architecture == "Esmm":
        p = torch.sigmoid(z_ctr) * torch.sigmoid(z_cvr)
        loss = loss + nn.functional.binary_cross_entropy(p.clamp(1e-7, 1 - 1e-7), click * conv)
    elif z_cvr.numel() > 0:
        loss = loss + bce(z_cvr, conv[click > 0])
    if z_rating.numel() > 0:
        loss = loss + 0.1 * ((1 + 4 * torch.sigmoid(z_rating) - rating[~torch.isnan(rating)]) ** 2).mean()
    return loss


def sgemm_gflops(n=1024, repeats=20):
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(3):
        a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n ** 3 * repeats / (time.perf_counter() - start) / 1e9


def main():
    folder, architecture = sys.argv[1], sys.argv[2]
    threads = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    rows = int(sys.argv[4]) if len(sys.argv) > 4 else 10 ** 9
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    cat, num, click, conv, rating, table_rows = load(folder, rows)
    model = Model(architecture, table_rows)
    dense = torch.optim.Adam(model.dense_parameters(), lr=1e-3)
    sparse = torch.optim.Adagrad(list(model.embeddings.parameters()), lr=0.05)
    batch, n = 2048, cat.shape[0]
    order = torch.randperm(n)
    start = time.perf_counter()
    for s in range(0, n, batch):
        i = order[s:s + batch]
        rows = defined_rows(architecture, click[i], rating[i])
        loss = loss_of(architecture, model(cat[i], num[i], rows), click[i], conv[i], rating[i])
        dense.zero_grad(set_to_none=True)
        sparse.zero_grad(set_to_none=True)
        loss.backward()
        dense.step()
        sparse.step()
    seconds = time.perf_counter() - start
    # Inference as the project's bench measures it: batches of 8192 in memory, ids in 1..2, every head's probability.
    model.eval()
    with torch.no_grad():
        ids = torch.randint(1, 3, (8192, cat.shape[1]))
        dense_in = torch.rand(8192, num.shape[1])
        def infer():
            z = model(ids, dense_in)
            return torch.sigmoid(z[0]), torch.sigmoid(z[1]), 1 + 4 * torch.sigmoid(z[2])
        infer()
        # The best of six half-second windows, as the project's InferenceThroughput: a neighbour only ever slows a window down.
        inference = 0
        for _ in range(6):
            batches, clock = 0, time.perf_counter()
            while time.perf_counter() - clock < 0.5:
                infer()
                batches += 1
            inference = max(inference, batches * 8192 / (time.perf_counter() - clock))
    print(json.dumps({
        "inference_rows_per_s": round(inference),
        "framework": f"pytorch {torch.__version__}", "architecture": architecture, "threads": threads, "rows": n, "batch": batch,
        "samples_per_s": round(n / seconds), "epoch_seconds": round(seconds, 2), "final_loss": round(float(loss), 4),
        "dense_parameters": sum(p.numel() for p in model.dense_parameters()),
        "sgemm_gflops": round(sgemm_gflops(), 1),
    }))


if __name__ == "__main__":
    main()
