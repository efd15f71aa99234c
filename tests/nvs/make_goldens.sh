#!/bin/sh
# make_goldens.sh - regenerate the golden NVS binaries in tests/nvs/golden from
# the CSVs in tests/nvs/data with ESP-IDF's reference generator.  Not run by
# the tests (they only compare against the committed .bin files).
#   NVS_REF=/path/holding/esp_idf_nvs_partition_gen  sh tests/nvs/make_goldens.sh
# The reference resolves `file` paths against its working directory, so it runs
# from tests/nvs/data (espfab resolves them against the CSV's folder: same files).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
: "${NVS_REF:?set NVS_REF to the folder that holds esp_idf_nvs_partition_gen}"
mkdir -p "$here/golden"
cd "$here/data"
gen() { # csv out size [version]
    PYTHONPATH="$NVS_REF" python3 -m esp_idf_nvs_partition_gen generate "$1" "$here/golden/$2" "$3" \
        --version "${4:-2}" --outdir / >/dev/null
}
gen all_types.csv all_types.bin 0x6000
gen all_types.csv all_types_v1.bin 0x6000 1
gen big_blob.csv big_blob.bin 0x8000
gen strings_v2.csv strings_v2.bin 0x5000
gen strings_v1.csv strings_v1.bin 0x5000 1
gen edge.csv edge.bin 0x6000
gen edge.csv edge_v1.bin 0x6000 1
gen small.csv small_ro.bin 0x2000
gen small.csv small_3page.bin 12288
