#!/usr/bin/env bash
# The course site: every lesson as a page with the outputs of a real run, built into build/site,
# then checked in headless Chromium (screenshots in build/site-screenshots/).
#
#   bash scripts/site.sh              set up, execute the student notebooks if build/executed/student
#                                     has none (about 10 minutes), build, check
#   bash scripts/site.sh --no-check   build only
#   bash scripts/site.sh --prepare    only install what building and checking need (scripts/test.sh)
#
# Open build/site/index.html; the folder is ready for GitHub Pages as it is. scripts/test.sh builds
# and checks the site from the notebooks it has just executed (nothing runs twice).
set -euo pipefail
cd "$(dirname "$0")/.."
check=1 prepare_only=0
case "${1:-}" in
  --no-check) check=0 ;;
  --prepare) prepare_only=1 ;;
  -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  "") ;;
  *) echo "error: unknown option $1 (bash scripts/site.sh --help)" >&2; exit 2 ;;
esac
MATHJAX=3.2.2  # course_utils/build/site.py's MATHJAX

[ -x .venv/bin/python ] || bash scripts/setup.sh
.venv/bin/uv pip install -q --python .venv/bin/python -r requirements-site.txt -c constraints.txt
if [ ! -f "build/mathjax-$MATHJAX.tgz" ]; then
  command -v npm > /dev/null || { echo "error: npm is needed once, to fetch MathJax (lesson 02's formulas)" >&2; exit 1; }
  mkdir -p build && npm pack "mathjax@$MATHJAX" --pack-destination build --silent > /dev/null
fi
if [ "$check" = 1 ] && ! command -v chromium > /dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get > /dev/null; then
    echo "==> installing Debian's chromium (and an emoji font, for faithful screenshots)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-color-emoji > /dev/null
  else
    echo "error: the check needs Chromium: install it (Debian: apt-get install chromium), or pass --no-check" >&2
    exit 1
  fi
fi

[ "$prepare_only" = 0 ] || exit 0

executed=build/executed/student
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
unset MPLBACKEND  # the kernels draw their plots inline, into the outputs the site shows
if ! compgen -G "$executed/[0-9][0-9]_*.ipynb" > /dev/null; then
  echo "==> executing the student notebooks (nbmake), outputs kept in $executed"
  mkdir -p "$executed" && cp notebooks/[0-9][0-9]_*.ipynb "$executed/"
  .venv/bin/python -m pytest -q -p no:cacheprovider --nbmake \
    --overwrite --nbmake-timeout=900 "$executed"/*.ipynb
fi
[ -f "$executed/run.json" ] || .venv/bin/python -m course_utils.build.site record --executed "$executed" > /dev/null
echo "==> building the site"
.venv/bin/python -m course_utils.build.site --executed "$executed" --out build/site
if [ "$check" = 1 ]; then
  echo "==> checking it in headless Chromium"
  .venv/bin/python -m course_utils.build.site_check --site build/site --screenshots build/site-screenshots
fi
