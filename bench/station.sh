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
BAUD=921600
QUICK=0
HELP_LINES=2,14
bench_extra_opt() {
    NARGS=2
    case $1 in
        --quick) QUICK=1; KS="1 8"; SIZE=256k; NARGS=1;;
        --boards) KS=$2;;
        --baud) BAUD=$2;;
        *) return 1;;
    esac
}
bench_parse "$@"
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
# board_failed TAG I TOOL RC REASON: records board I's failure (the first 3
# per run are listed in full); returns 0 when the board failed.
board_failed() {
    local why=$5
    if [ "$4" = 0 ]; then
        why=$(check_dump "$1" "$2" "$IMG" $((OFFSET))) && return 1
    fi
    R[$1,fail]=$(( ${R[$1,fail]:-0} + 1 ))
    [ "${R[$1,fail]}" -le 3 ] && FAILS+=("$3, board $2 of ${1##*-}: $why")
    return 0
}

# cost_sums FILE [OKLIST]: "start end cpu rss n" over the benchrun lines of
# FILE (only the tags in OKLIST, space separated, when given).
cost_sums() {
    awk -v ok=" ${2:-} " '{delete v; for(i=1;i<=NF;i++){split($i,a,"=");v[a[1]]=a[2]}
        if(ok!="  " && index(ok," "v["tag"]" ")==0) next
        if(n==0||v["start_ms"]<s)s=v["start_ms"]; if(n==0||v["end_ms"]>e)e=v["end_ms"]
        c+=v["user_s"]+v["sys_s"]; r+=v["maxrss_kib"]; n++}
        END{printf "%.3f %.3f %.3f %.1f %d", s, e, c, r/1024, n}' "$1"
}

run_espfab() {
    local k=$1 tag=espfab-$1 ports="" p rc i why
    start_sim "$tag" "$k" "$PACE"
    for p in "${SIM_PORTS[@]}"; do ports+=${ports:+,}tcp://127.0.0.1:$p; done
    "$BRUN" --out "$W/cost-$tag.txt" -- "$ESPFAB" run --profile "$W/bench.ini" --ports "$ports" --batch \
        --db "$W/db-$k.sqlite" --log json > "$W/out-$tag.txt" 2> "$W/err-$tag.txt"
    rc=$?
    stop_sim "$tag"
    R[$tag,fail]=0
    if [ ! -s "$W/cost-$tag.txt" ]; then
        R[$tag,ok]=0
        FAILS+=("espfab run, $k boards: did not run: $(tail -n 1 "$W/err-$tag.txt")")
        return
    fi
    R[$tag,ok]=1
    if [ "$rc" != 0 ]; then
        why=$(grep -m1 '"outcome":"fail' "$W/out-$tag.txt" | sed -n 's/.*"message":"\(.*\)"}.*/\1/p')
        [ -n "$why" ] || why=$(grep -v '^\s*$' "$W/err-$tag.txt" "$W/out-$tag.txt" | tail -n 1)
        FAILS+=("espfab run, $k boards: exit $rc: $why")
    fi
    for ((i = 0; i < k; i++)); do
        board_failed "$tag" "$i" "espfab run" 0 ""
    done
    if [ "$rc" != 0 ] && [ "${R[$tag,fail]}" = 0 ]; then R[$tag,fail]=$k; fi
    local c=$W/cost-$tag.txt
    R[$tag,wall]=$(calc "$(kv "$c" wall_ms) / 1000")
    R[$tag,cpu]=$(calc "($(kv "$c" user_s) + $(kv "$c" sys_s)) / $k")
    R[$tag,rss]=$(mib "$(kv "$c" maxrss_kib)")
    R[$tag,rssp]=${R[$tag,rss]}
    R[$tag,sim]=$SIM_CPU
}

run_esptooljs() {
    local k=$1 tag=esptooljs-$1 i pids=() rcs=() okl=""
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
        rcs+=($?)
    done
    PIDS=()
    stop_sim "$tag"
    R[$tag,fail]=0
    for ((i = 0; i < k; i++)); do
        board_failed "$tag" "$i" "esptool-js" "${rcs[$i]}" \
            "exit ${rcs[$i]}: $(sed -n 's/.*"error":"\(.*\)"}.*/\1/p' "$W/out-$tag-$i.txt")" || okl+="$i "
    done
    local c=$W/cost-$tag.txt all ok
    read -r -a all <<< "$(cost_sums "$c")"
    R[$tag,ok]=1
    [ "${all[4]}" = 0 ] && { R[$tag,ok]=0; return; }
    R[$tag,wall]=$(calc "(${all[1]} - ${all[0]}) / 1000")
    R[$tag,cpu]=$(calc "${all[2]} / $k")
    R[$tag,rss]=${all[3]}
    R[$tag,rssp]=$(calc "${all[3]} / $k")
    R[$tag,sim]=$SIM_CPU
    # CPU of one esptool-js process that flashed its board (the target's unit)
    R[$tag,cpuok]=-
    if [ -n "$okl" ]; then
        read -r -a ok <<< "$(cost_sums "$c" "$okl")"
        R[$tag,cpuok]=$(calc "${ok[2]} / ${ok[4]}")
    fi
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
printf '%-10s %4s %6s %9s %10s %12s %11s %13s %13s %10s\n' tool K failed wall_s wall/wall1 cpu_s/board rss_MiB rss_MiB/proc growth/board espsim_cpu
for tool in $TOOLS; do
    for k in $KS; do
        t=$tool-$k
        if [ "${R[$t,ok]:-0}" != 1 ]; then printf '%-10s %4s   DID NOT RUN (see below)\n' "$tool" "$k"; continue; fi
        ratio=-; growth=-
        [ "${R[$tool-$K1,ok]:-0}" = 1 ] && ratio=$(calc "${R[$t,wall]} / ${R[$tool-$K1,wall]}")
        if [ "${R[$tool-$K1,ok]:-0}" = 1 ] && [ "$k" != "$K1" ]; then
            growth=$(calc "(${R[$t,rss]} - ${R[$tool-$K1,rss]}) / ($k - $K1)")
        fi
        printf '%-10s %4s %6s %9.2f %10s %12.3f %11.1f %13.1f %13s %10.2f\n' "$tool" "$k" "${R[$t,fail]}" "${R[$t,wall]}" "$ratio" \
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
elif [ "${R[espfab-$KMAX,ok]:-0}" = 1 ] && [ "${R[espfab-$K1,ok]:-0}" = 1 ] &&
     [ "${R[espfab-$KMAX,fail]}" = 0 ] && [ "${R[espfab-$K1,fail]}" = 0 ]; then
    r=$(calc "${R[espfab-$KMAX,wall]} / ${R[espfab-$K1,wall]}")
    v=$(verdict "$r <= 1.10"); [ "$v" = met ] && met=$((met+1)) || missed=$((missed+1))
    echo "  espfab wall($KMAX)/wall($K1) = $r (target <= 1.10$([ "$KMAX" != 64 ] && echo ", asked for K=64")): $v"
    g=$(calc "(${R[espfab-$KMAX,rss]} - ${R[espfab-$K1,rss]}) / ($KMAX - $K1)")
    v=$(verdict "$g <= 1.0"); [ "$v" = met ] && met=$((met+1)) || missed=$((missed+1))
    echo "  espfab RSS growth per extra board = $g MiB (target <= 1 MiB): $v"
else
    echo "  espfab scaling targets: not measured (espfab did not run or did not flash every board)"
fi
if [ "${R[espfab-$KMAX,ok]:-0}" = 1 ] && [ "${R[espfab-$KMAX,fail]}" = 0 ] &&
   [ "${R[esptooljs-$KMAX,ok]:-0}" = 1 ] && [ "${R[esptooljs-$KMAX,cpuok]}" != - ]; then
    r=$(calc "${R[espfab-$KMAX,cpu]} / ${R[esptooljs-$KMAX,cpuok]}")
    v=$(verdict "$r <= 0.1"); [ "$v" = met ] && met=$((met+1)) || missed=$((missed+1))
    note=""
    [ "${R[esptooljs-$KMAX,fail]}" != 0 ] &&
        note=" (over the $((KMAX - R[esptooljs-$KMAX,fail])) esptool-js processes that flashed their board)"
    echo "  espfab CPU per board ${R[espfab-$KMAX,cpu]} s / esptool-js CPU per process ${R[esptooljs-$KMAX,cpuok]} s" \
         "(K=$KMAX) = $r (target <= 0.10)$note: $v"
else
    echo "  CPU per board target: not measured (a tool did not run or did not flash)"
fi
echo "  targets met: $met, NOT met: $missed"
if [ "${#FAILS[@]}" -gt 0 ]; then
    echo
    echo "FAILED TO FLASH:"
    for f in "${FAILS[@]}"; do echo "  $f"; done
    exit 1
fi
exit 0
