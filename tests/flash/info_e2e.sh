#!/usr/bin/env bash
# info_e2e.sh - `espfab info` names the simulated board's chip, MAC and flash
# id (text and --json), over ptys and TCP, with and without the stub; a
# --chip that contradicts the board fails with exit 1.
. "$(dirname "$0")/common.sh"

# Board 3 has a 16 MB GigaDevice flash (JEDEC 0x1840C8) and revision v0.3.
start_sim esp8266:1,esp32:1,esp32s3:1,esp32c3:1 --seed 7 --rev esp32c3:0.3
# A second simulator for the one board with another flash chip.
start_sim2() {
    "$ESPSIM" --boards esp32c3:1 --flash-size 16MB --jedec 0x1840C8 --no-pty --tcp-base 0 \
        >"$T/sim2.out" 2>"$T/sim2.trace" &
    local pid=$!
    track_pid "$pid"
    sim_wait_ready "$T/sim2.out" "$pid" "$T/sim2.trace"
    SIM2_TCP=$(sed -n 's/^board 0 .* tcp=\([^ ]*\).*/\1/p' "$T/sim2.out")
    SIM2_MAC=$(sed -n 's/^board 0 .* mac=\([^ ]*\).*/\1/p' "$T/sim2.out")
}
start_sim2

names=(ESP8266 ESP32 ESP32-S3 ESP32-C3)
for b in 0 1 2 3; do
    for port in "${PTY[$b]}" "${TCP[$b]}"; do
        for stub in "" "--no-stub"; do
            what="info board $b ${names[$b]} $port ${stub:-stub}"
            if expect_status 0 "$what" "$ESPFAB" info --port "$port" $stub; then
                expect_out "$what" "${names[$b]}"
                expect_out "$what" "${MAC[$b]}"
                expect_out "$what" "ef4016"   # JEDEC id as manufacturer/type/capacity
                expect_out "$what" "4MB"
            fi
        done
    done
done
expect_status 0 "info C3 revision" "$ESPFAB" info --port "${PTY[3]}"
expect_out "info C3 revision" "v0.3"
expect_out "info C3 revision" "security     flags 0x"

# --json: one object; read it back with sqlite3's JSON functions.
if expect_status 0 "info --json" "$ESPFAB" info --port "${PTY[1]}" --json; then
    json=$(cat "$T/out")
    q() { sqlite3 :memory: "SELECT json_extract('$(printf '%s' "$json" | sed "s/'/''/g")', '$1')"; }
    [ "$(q '$.chip')" = "ESP32" ] && pass "json chip" || fail "json chip: $(q '$.chip')"
    [ "$(q '$.mac')" = "${MAC[1]}" ] && pass "json mac" || fail "json mac: $(q '$.mac') != ${MAC[1]}"
    [ "$(q '$.flash.jedec')" = "0x1640ef" ] && pass "json flash.jedec" || fail "json flash.jedec: $(q '$.flash.jedec')"
    [ "$(q '$.flash.size')" = "4194304" ] && pass "json flash.size" || fail "json flash.size: $(q '$.flash.size')"
    [ "$(q '$.flash.manufacturer')" = "0xef" ] && pass "json flash.manufacturer" || fail "json manufacturer: $(q '$.flash.manufacturer')"
    [ "$(q '$.flash.device')" = "0x4016" ] && pass "json flash.device" || fail "json flash.device: $(q '$.flash.device')"
    [ "$(q '$.security')" = "" ] && pass "json security null on ESP32 (no GET_SECURITY_INFO)" || fail "json security on ESP32: $(q '$.security')"
    q '$.features' | grep -q "Wi-Fi" && pass "json features" || fail "json features: $(q '$.features')"
fi

# Another flash chip: GigaDevice 16 MB.
if expect_status 0 "info GigaDevice 16MB" "$ESPFAB" info --port "tcp://$SIM2_TCP"; then
    expect_out "info GigaDevice 16MB" "c84018"
    expect_out "info GigaDevice 16MB" "16MB"
    expect_out "info GigaDevice 16MB" "$SIM2_MAC"
fi

# Wrong --chip: the board is named.
expect_status 1 "info --chip esp32 on an ESP8266" "$ESPFAB" info --port "${PTY[0]}" --chip esp32
expect_out "info --chip esp32 on an ESP8266" "ESP8266"
finish
