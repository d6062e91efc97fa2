# Lab01: the two commands a student needs are `make run` and `make test`.
# TORCH_REQ lets CI ask for a specific torch build (e.g. the CPU wheel on disk), TORCH_INDEX
# a package index to take it from (e.g. PyTorch's CPU-only wheel index, which avoids the
# multi-GB CUDA build); everyone else gets the normal `torch` from their package index.
PYTHON ?= python3
TORCH_REQ ?= torch
TORCH_INDEX ?=
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TORCH_STAMP := $(VENV)/.torch-req
# Set up once with TORCH_REQ/TORCH_INDEX, later commands keep them: unless given again, the
# ones of the last install are used (so `make handin` does not reinstall the default torch).
ifeq ($(origin TORCH_REQ)$(origin TORCH_INDEX),filefile)
  ifneq ($(wildcard $(TORCH_STAMP)),)
    TORCH_REQ := $(word 1,$(shell cat $(TORCH_STAMP)))
    TORCH_INDEX := $(word 2,$(shell cat $(TORCH_STAMP)))
  endif
endif
# In the student release (`make student` writes `.student-release` into it) lint is offered
# (`make lint`, `make format`) but is no gate before the tests, and `make bench` runs the one
# benchmark the release holds.
STUDENT := $(wildcard .student-release)

.PHONY: run test lint format lab bench progress handin update student answers grade autograder sample \
	clean help FORCE

help:
	@echo "make run      train Task 1 (NumPy) and Task 2 (PyTorch) and write the comparison"
	@echo "make test     $(if $(STUDENT),your progress +,lint +) the whole test suite (pytest, nbval over every notebook)"
	@echo "make progress one line per exercise: done, not yet, failing"
	@echo "make handin   one archive of your work to hand in (NAME=you)"
	@echo "make update NEW=DIR  take a corrected version, keeping your work"
	@echo "make lab      open the notebooks in JupyterLab"
	@echo "make bench    NumPy vs torch: the training step, then layer by layer"
	$(if $(STUDENT),,@echo "make student  write the student release to dist/student/ and its wheel to dist/")
	$(if $(STUDENT),,@echo "make answers  the answer key (solutions and answers in place) in dist/answers/")
	$(if $(STUDENT),,@echo "make grade SUBMISSIONS=DIR  grade hand-ins: grades/grades.csv, results/, answers/")
	$(if $(STUDENT),,@echo "make autograder  the Gradescope bundle, dist/autograder.zip")

# The torch requirement last installed: a different TORCH_REQ re-runs the install.
$(TORCH_STAMP): FORCE
	@mkdir -p $(VENV)
	@echo '$(TORCH_REQ) $(TORCH_INDEX)' | cmp -s - $@ || echo '$(TORCH_REQ) $(TORCH_INDEX)' > $@

$(STAMP): pyproject.toml $(TORCH_STAMP)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(if $(TORCH_INDEX),--index-url "$(TORCH_INDEX)") "$(TORCH_REQ)"
	@# (setuptools warns on every editable install that a folder named like the package could
	@# shadow it: here that folder is the package itself, so the warning is noise)
	PYTHONWARNINGS=ignore::UserWarning $(PY) -m pip install -q -e ".[dev]"
	@touch $(STAMP)

run: $(STAMP)
	$(PY) -m lab01_utils.main

lint: $(STAMP)
	$(PY) -m ruff check lab01_utils tests benchmarks scripts
	$(PY) -m ruff format --check lab01_utils tests benchmarks scripts

format: $(STAMP)
	$(PY) -m ruff check --fix lab01_utils tests benchmarks scripts
	$(PY) -m ruff format lab01_utils tests benchmarks scripts

progress: $(STAMP)
	@$(PY) -m lab01_utils.progress || true

# Both runs always run (the notebooks too while exercises are left); it fails if either did.
test: $(if $(STUDENT),$(STAMP),lint)
	@LAB01_PROFILE=quick $(PY) -m pytest -q tests; tests=$$?; \
	LAB01_PROFILE=quick $(PY) -m pytest -q --nbval-lax --nbval-current-env -p no:randomly notebooks; \
	notebooks=$$?; test $$tests -eq 0 -a $$notebooks -eq 0 || { \
	echo; echo "make test: not all passed: the tests $$(test $$tests -eq 0 && echo passed || \
	echo 'did not (exercises left or failing: make progress says which)'), the notebooks \
	$$(test $$notebooks -eq 0 && echo passed || echo 'did not (see above)')." >&2; exit 1; }

lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks

bench: $(STAMP)
	$(PY) benchmarks/bench_step.py
	$(if $(STUDENT),,$(PY) benchmarks/compare_layers.py)

student: $(STAMP)
	$(if $(STUDENT),@echo "this is the student release: make student is the instructor's" >&2; exit 2)
	$(PY) -m lab01_utils.release --out dist/student $(if $(SOURCE),--source "$(SOURCE)")
	$(PY) -m pip wheel -q --no-deps -w dist dist/student
	rm -rf dist/student/build dist/student/lab01_utils.egg-info  # the wheel build's by-products

handin: $(STAMP)
	$(PY) -m lab01_utils.handin $(if $(NAME),--name "$(NAME)")

update: $(STAMP)
	@test -n "$(NEW)" || { echo "make update NEW=DIR (the new version's folder)" >&2; exit 2; }
	$(PY) -m lab01_utils.update "$(NEW)"

answers: $(STAMP)
	$(if $(STUDENT),@echo "this is the student release: make answers is the instructor's" >&2; exit 2)
	$(PY) -m lab01_utils.release --answers --out dist/answers

grade: $(STAMP)
	$(if $(STUDENT),@echo "this is the student release: make grade is the instructor's" >&2; exit 2)
	@test -n "$(SUBMISSIONS)" || { echo "make grade SUBMISSIONS=DIR (a hand-in or a folder of them)" >&2; exit 2; }
	$(PY) -m lab01_utils.grading "$(SUBMISSIONS)" --out grades

autograder: $(STAMP)
	$(if $(STUDENT),@echo "this is the student release: make autograder is the instructor's" >&2; exit 2)
	$(PY) -m lab01_utils.autograder --out dist/autograder.zip

sample: $(STAMP)
	$(PY) scripts/make_sample.py

clean:
	rm -rf dist build *.egg-info .pytest_cache .ruff_cache

FORCE:
