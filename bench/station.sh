#!/usr/bin/env bash
# bench/station.sh - benchmark 2, issue "station": K paced espsim ESP32
# boards (921600 baud, 1.5 MiB image) flashed by ONE `espfab run --batch`,
# and the same K boards (fresh simulator) by K concurrent esptool-js
# processes, side by side, for K = 1 8 32 64.  espsim's own CPU is measured
# separately (it is neither tool's cost).  See bench/README.md.
#
# usage: bash bench/station.sh [--build DIR] [--quick] [--boards "1 8 32 64"]
#        [--size 1536k] [--baud 921600] [--no-pace] [--tools "espfab esptooljs"] [--keep]
#   --quick   smoke run: 1 and 8 boards, 256 KiB image
#   --no-verify  both tools skip the MD5 read-back (figures marked UNVERIFIED)
# Exit status: 0 when every board was flashed (targets missed or not), 1 when
# a tool failed to flash a board (the reason is printed), 2 bad usage/setup.
source "$(dirname "$0")/lib.sh"

KS="1 8 32 64"
SIZE=1536k
BAUD=921600
OFFSET=0x10000
PACE=1
TOOLS="espfab esptooljs"
QUICK=0
VERIFY=1
while [ $# -gt 0 ]; do
    case $1 in
        --build) BUILD=$2; shift 2;;
        --quick) QUICK=1; KS="1 8"; SIZE=256k; shift;;
        --boards) KS=$2; shift 2;;
        --size) SIZE=$2; shift 2;;
        --baud) BAUD=$2; shift 2;;
        --no-pace) PACE=0; shift;;
        --tools) TOOLS=$2; shift 2;;
        --keep) KEEP=1; shift;;
        --no-verify) VERIFY=0; shift;;
        -h|--help) sed -n '2,14p' "$0"; exit 0;;
        *) die "unknown argument $1 (see --help)";;
    esac
done
bench_tools

IMG=$W/img.bin
"$MKIMAGE" --chip esp32 --kind app --size "$SIZE" --compressible 50 --seed 1 -o "$IMG" >/dev/null ||
    die "espfab-mkimage failed"
cat > "$W/bench.ini" <<EOT
[profile]
name = bench
chip = esp32
baud = $BAUD
verify = $([ "$VERIFY" = 1 ] && echo yes || echo no)
[image app]
file = img.bin
offset = $OFFSET
EOT
FAILS=()
declare -A R

# verify_boards TAG K TOOL: every board's dump holds the image.
verify_boards() {
    local i why n=0
    for ((i = 0; i < $2; i++)); do
        if ! why=$(check_dump "$1" "$i" "$IMG" $((OFFSET))); then
            n=$((n + 1))
            [ "$n" -le 3 ] && FAILS+=("$3, $2 boards: $why")
        fi
    done
    [ "$n" -gt 3 ] && FAILS+=("$3, $2 boards: ... $n boards in all were not written")
    return "$n"
}

run_espfab() {
    local k=$1 tag=espfab-$1 ports="" p rc
    start_sim "$tag" "$k" "$PACE"
    for p in "${SIM_PORTS[@]}"; do ports+=${ports:+,}tcp://127.0.0.1:$p; done
    "$BRUN" --out "$W/cost-$tag.txt" -- "$ESPFAB" run --profile "$W/bench.ini" --ports "$ports" --batch \
        --db "$W/db-$k.sqlite" --log json > "$W/out-$tag.txt" 2> "$W/err-$tag.txt"
    rc=$?
    stop_sim "$tag"
    R[$tag,ok]=1
    if [ "$rc" != 0 ]; then
        R[$tag,ok]=0
        local why
        why=$(grep -m1 '"outcome":"fail' "$W/out-$tag.txt" | sed -n 's/.*"message":"\(.*\)"}.*/\1/p')
        [ -n "$why" ] || why=$(grep -v '^\s*$' "$W/err-$tag.txt" "$W/out-$tag.txt" | tail -n 1)
        FAILS+=("espfab run, $k boards: exit $rc ($(grep -c '"outcome":"fail' "$W/out-$tag.txt") boards failed): $why")
        return
    fi
    verify_boards "$tag" "$k" "espfab run" || { R[$tag,ok]=0; return; }
    local c=$W/cost-$tag.txt
    R[$tag,wall]=$(calc "$(kv "$c" wall_ms) / 1000")
    R[$tag,cpu]=$(calc "($(kv "$c" user_s) + $(kv "$c" sys_s)) / $k")
    R[$tag,rss]=$(mib "$(kv "$c" maxrss_kib)")
    R[$tag,rssp]=${R[$tag,rss]}
    R[$tag,sim]=$SIM_CPU
}

run_esptooljs() {
    local k=$1 tag=esptooljs-$1 i pids=() rc bad=0
    start_sim "$tag" "$k" "$PACE"
    : > "$W/cost-$tag.txt"
    for ((i = 0; i < k; i++)); do
        "$BRUN" --tag "$i" --out "$W/cost-$tag.txt" -- node "$PEER" --port "tcp://127.0.0.1:${SIM_PORTS[$i]}" \
            --baud "$BAUD" --offset "$OFFSET" --file "$IMG" --verify "$VERIFY" > "$W/out-$tag-$i.txt" 2> "$W/err-$tag-$i.txt" &
        pids+=($!)
    done
    PIDS+=("${pids[@]}")
    for ((i = 0; i < k; i++)); do
        wait "${pids[$i]}"
        rc=$?
        if [ "$rc" != 0 ]; then
            bad=$((bad + 1))
            [ "$bad" -le 3 ] && FAILS+=("esptool-js board $i of $k: exit $rc: $(sed -n 's/.*"error":"\(.*\)"}.*/\1/p' "$W/out-$tag-$i.txt")")
        fi
    done
    PIDS=()
    stop_sim "$tag"
    R[$tag,ok]=1
    [ "$bad" -gt 0 ] && { R[$tag,ok]=0; return; }
    verify_boards "$tag" "$k" "esptool-js" || { R[$tag,ok]=0; return; }
    local c=$W/cost-$tag.txt
    R[$tag,wall]=$(awk '{for(i=1;i<=NF;i++){split($i,a,"=");v[a[1]]=a[2]}
        if(NR==1||v["start_ms"]<s)s=v["start_ms"]; if(NR==1||v["end_ms"]>e)e=v["end_ms"]}
        END{printf "%.3f",(e-s)/1000}' "$c")
    R[$tag,cpu]=$(awk -v k="$k" '{for(i=1;i<=NF;i++){split($i,a,"=");v[a[1]]=a[2]} t+=v["user_s"]+v["sys_s"]}
        END{printf "%.3f",t/k}' "$c")
    R[$tag,rss]=$(awk '{for(i=1;i<=NF;i++){split($i,a,"=");v[a[1]]=a[2]} t+=v["maxrss_kib"]}
        END{printf "%.1f",t/1024}' "$c")
    R[$tag,rssp]=$(calc "${R[$tag,rss]} / $k")
    R[$tag,sim]=$SIM_CPU
}

echo "bench/station: K ESP32 boards at $BAUD baud, image $(stat -c %s "$IMG") bytes at $OFFSET," \
     "$([ "$PACE" = 1 ] && echo "paced espsim" || echo "UNPACED espsim (smoke)"), K = $KS"
[ "$VERIFY" = 0 ] && echo "UNVERIFIED: --no-verify, neither tool reads the MD5 back (provisional figures)"
for k in $KS; do
    for tool in $TOOLS; do
        echo "  running $tool with $k boards..." >&2
        "run_$tool" "$k"
    done
done

K1=${KS%% *}
echo
printf '%-10s %4s %9s %10s %12s %11s %13s %13s %10s\n' tool K wall_s wall/wall1 cpu_s/board rss_MiB rss_MiB/proc growth/board espsim_cpu
for tool in $TOOLS; do
    for k in $KS; do
        t=$tool-$k
        if [ "${R[$t,ok]:-0}" != 1 ]; then printf '%-10s %4s   FAILED (see below)\n' "$tool" "$k"; continue; fi
        ratio=-; growth=-
        [ "${R[$tool-$K1,ok]:-0}" = 1 ] && ratio=$(calc "${R[$t,wall]} / ${R[$tool-$K1,wall]}")
        if [ "${R[$tool-$K1,ok]:-0}" = 1 ] && [ "$k" != "$K1" ]; then
            growth=$(calc "(${R[$t,rss]} - ${R[$tool-$K1,rss]}) / ($k - $K1)")
        fi
        printf '%-10s %4s %9.2f %10s %12.3f %11.1f %13.1f %13s %10.2f\n' "$tool" "$k" "${R[$t,wall]}" "$ratio" \
            "${R[$t,cpu]}" "${R[$t,rss]}" "${R[$t,rssp]}" "$growth" "${R[$t,sim]}"
    done
done
echo
echo "wall = first tool process start -> last exit; cpu/board = user+sys of the tool's process(es) / K;"
echo "rss = peak RSS (espfab: its one process; esptool-js: sum of the K processes); growth/board ="
echo "(rss(K) - rss($K1)) / (K - $K1); espsim_cpu = the simulator's own user+sys (neither tool's cost)."

echo
echo "SUMMARY (targets)"
KMAX=${KS##* }
met=0; missed=0
verdict() { if awk "BEGIN{exit !($1)}"; then echo met; else echo "NOT met"; fi; }
if [ "$KMAX" = "$K1" ]; then
    echo "  (one K only: no scaling targets)"
elif [ "${R[espfab-$KMAX,ok]:-0}" = 1 ] && [ "${R[espfab-$K1,ok]:-0}" = 1 ]; then
    r=$(calc "${R[espfab-$KMAX,wall]} / ${R[espfab-$K1,wall]}")
    v=$(verdict "$r <= 1.10"); [ "$v" = met ] && met=$((met+1)) || missed=$((missed+1))
    echo "  espfab wall($KMAX)/wall($K1) = $r (target <= 1.10$([ "$KMAX" != 64 ] && echo ", asked for K=64")): $v"
    g=$(calc "(${R[espfab-$KMAX,rss]} - ${R[espfab-$K1,rss]}) / ($KMAX - $K1)")
    v=$(verdict "$g <= 1.0"); [ "$v" = met ] && met=$((met+1)) || missed=$((missed+1))
    echo "  espfab RSS growth per extra board = $g MiB (target <= 1 MiB): $v"
else
    echo "  espfab scaling targets: not measured (espfab did not flash)"
fi
if [ "${R[espfab-$KMAX,ok]:-0}" = 1 ] && [ "${R[esptooljs-$KMAX,ok]:-0}" = 1 ]; then
    r=$(calc "${R[espfab-$KMAX,cpu]} / ${R[esptooljs-$KMAX,cpu]}")
    v=$(verdict "$r <= 0.1"); [ "$v" = met ] && met=$((met+1)) || missed=$((missed+1))
    echo "  espfab CPU per board / esptool-js CPU per process (K=$KMAX) = $r (target <= 0.10): $v"
else
    echo "  CPU per board target: not measured (a tool did not flash)"
fi
echo "  targets met: $met, NOT met: $missed"
if [ "${#FAILS[@]}" -gt 0 ]; then
    echo
    echo "FAILED TO FLASH:"
    for f in "${FAILS[@]}"; do echo "  $f"; done
    exit 1
fi
exit 0
