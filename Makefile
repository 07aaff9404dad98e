# contra: `make run` starts the service, `make test` runs the suite. Both set up what they need.
PY_SYS ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

PROTO_SRC := proto/contra/v1/contra.proto
PROTO_OUT := src/contra/v1/contra_pb2.py

.PHONY: all setup embedder browser run test test-load lint proto train-nli eval-nli eval eval-news fit-judge eval-retrieval bench bench-index bench-compare clean

all: setup

# The venv with torch pinned first (so that nothing can pull a CUDA build) and the protoc plugin.
$(VENV)/.stamp-tools:
	test -x $(PY) || $(PY_SYS) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0 grpcio-tools==1.85.1
	touch $@

$(PROTO_OUT): $(PROTO_SRC) $(VENV)/.stamp-tools
	mkdir -p src/contra/v1
	$(PY) -m grpc_tools.protoc -Iproto --python_out=src --grpc_python_out=src --pyi_out=src $(PROTO_SRC)
	printf '"""Generated from proto/contra/v1/contra.proto by make proto."""\n' > src/contra/v1/__init__.py

# Dependencies: reinstalled only when pyproject.toml changes. The editable install is a link tree
# (strict mode) so that mypy sees the mapped package.
$(VENV)/.stamp-deps: pyproject.toml $(PROTO_OUT)
	$(PIP) install -q -e '.[dev,train,ray]' --config-settings editable_mode=strict
	touch $@

# The link tree is re-made when files are added to or removed from the package folders.
$(VENV)/.stamp-link: $(VENV)/.stamp-deps service service/api service/batch service/judge service/models index src/contra src/contra/v1
	$(PIP) install -q --no-deps --no-build-isolation -e . --config-settings editable_mode=strict
	touch $@

proto: $(PROTO_OUT)

setup: $(VENV)/.stamp-link

# The int8 ONNX embedder, exported once from the packaged weights into var/cache (a no-op when there).
embedder: setup
	$(PY) -m contra.service.models.embedder_onnx --cache-dir var/cache

run: setup embedder
	$(VENV)/bin/contra serve

# The HTML report test drives a real headless Chromium (Debian's package). Installed here when
# missing and we are root (CI, dev machines); elsewhere that one test skips and says why.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || \
	  echo "note: chromium not installed; the report browser test will skip"; }

test: setup browser embedder
	$(PY) -m pytest -q

# The load test: 64 concurrent clients against a real server for 30 s (marker `load`; CI runs it too).
test-load: setup embedder
	$(PY) -m pytest -q -m load

lint: setup node_modules/.stamp
	$(VENV)/bin/ruff check service index tests models bench src/contra/*.py
	$(VENV)/bin/ruff format --check service index tests models bench src/contra/*.py
	$(VENV)/bin/mypy -p contra.service -p contra.index -m contra.domain -m contra.errors -m contra.newsdata
	npx --no-install buf lint

node_modules/.stamp: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The full recipe: from the base model on the vendored pool (~110 min on 2 CPU cores; CUDA is used when present,
# pass more epochs with NLI_TRAIN_ARGS="--epochs 4"). The warm start continues from the committed int8 model on the
# mixed pool with news pairs (one pass, ~45 min on 2 shared cores) and interpolates with its start. Both export to models/; `make eval-nli` then
# compares the new model with the committed one (models/README.md).
train-nli: setup
	$(PY) models/train_nli.py --out var/nli-train $(NLI_TRAIN_ARGS)
	$(PY) models/export_nli.py --checkpoint var/nli-train/final --out models/contra-nli-minilm-l6

.PHONY: train-nli-warm
# The shipped model, in three resumable stages from the from-scratch model of make train-nli (commit c233a0d's file,
# read from git): (1) one pass over general replay + VitaminC + role-nli news pairs; (2) one pass with more general
# replay at a lower rate; (3) one pass adding neutral sentence pairs of one article (models/README.md, "Warm start").
# Each stage is skipped when its final/ exists; ~35-45 min each on 2 CPU cores, minutes on a GPU.
NLI_WARM_FROM ?= c233a0d
var/nli-warm-from/model.onnx:
	mkdir -p var/nli-warm-from
	for f in config.json model.onnx tokenizer.json tokenizer_config.json; do \
	  git show $(NLI_WARM_FROM):models/contra-nli-minilm-l6/$$f > var/nli-warm-from/$$f; done
var/nli-warm/final/config.json: | var/nli-warm-from/model.onnx
	$(PY) models/train_nli.py --init-from-onnx var/nli-warm-from --pool warm --epochs 1 --lr 3e-5 \
		--general 11000 --vitaminc 11000 --seed 13 --out var/nli-warm $(NLI_TRAIN_ARGS)
var/nli-warm2/final/config.json: var/nli-warm/final/config.json
	$(PY) models/train_nli.py --base var/nli-warm/final --pool warm --epochs 1 --lr 2e-5 \
		--general 30000 --vitaminc 8000 --seed 17 --out var/nli-warm2 $(NLI_TRAIN_ARGS)
var/nli-warm3/final/config.json: var/nli-warm2/final/config.json
	$(PY) models/train_nli.py --base var/nli-warm2/final --pool warm --epochs 1 --lr 2e-5 \
		--general 20000 --vitaminc 6000 --within-article 6 --seed 19 --out var/nli-warm3 $(NLI_TRAIN_ARGS)
train-nli-warm: setup var/nli-warm3/final/config.json
	$(PY) models/export_nli.py --checkpoint var/nli-warm3/final --out models/contra-nli-minilm-l6

NLI_FP32 ?= $(firstword $(wildcard var/nli-warm3/final var/nli-train/final) var/nli-train/final)
eval-nli: setup
	$(PY) models/eval_nli.py --fp32 $(NLI_FP32) --baseline auto --card models/README.md $(NLI_EVAL_ARGS)

eval: setup embedder
	$(PY) bench/eval_detection.py

# The judge on real outlets' news (../shared/data/news; skips when absent): per set P/R/F1, AUC, vetoes,
# the ablation. NLI outputs are cached under var/news-eval per model hash.
eval-news: setup embedder
	cd bench && ../$(PY) eval_news.py --json ../var/news-eval/report.json

# Refit the judge's calibration on real news (grouped CV); re-run after the NLI model changes.
fit-judge: setup embedder
	cd bench && ../$(PY) fit_judge.py

# Candidate recall of conflicting and agreeing partners on real outlets (Emergent, ClaimDiff, FNC-1), through
# CandidateSearch; plain dense search is the baseline in the same run (docs/retrieval.md).
eval-retrieval: setup embedder
	$(PY) bench/eval_retrieval.py --json var/eval-retrieval/last.json

# The service against a naive baseline of the same parts: ingest rate, Check latency at 1/8/32 clients.
bench: setup embedder
	$(PY) bench/bench_service.py

bench-index: setup
	$(PY) bench/bench_index.py --sizes 100000,1000000

# A 1,000-document compare job on this machine: throughput per stage (the README's batch figure).
bench-compare: setup
	mkdir -p var/bench-compare
	$(PY) bench/compare_corpus.py var/bench-compare/docs.jsonl
	$(VENV)/bin/contra compare var/bench-compare/docs.jsonl --out var/bench-compare/conflicts.jsonl \
	  --html var/bench-compare/report.html

clean:
	rm -rf $(VENV) build src/contra/v1 node_modules .mypy_cache .ruff_cache .pytest_cache
