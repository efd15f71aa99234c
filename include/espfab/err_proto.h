/* err_proto.h - SLIP / packet / loader-status family (200-299).  See err.h. */
#ifndef ESPFAB_ERR_PROTO_H
#define ESPFAB_ERR_PROTO_H
#define ESPFAB_ERR_MAP_PROTO(XX) \
    XX(SLIP_BAD_ESCAPE, 200, "invalid SLIP escape in a reply", "serial noise or corruption; check the cable, lower the baud") \
    XX(SLIP_OVERFLOW, 201, "reply frame too long", "serial noise or a missing frame end; check the cable, lower the baud") \
    XX(PROTO_SHORT_FRAME, 202, "reply frame too short", "serial noise or corruption; check the cable, lower the baud") \
    XX(PROTO_BAD_DIRECTION, 203, "frame is not a reply", "serial noise or echo on the line; check the wiring") \
    XX(PROTO_UNSUPPORTED, 204, "the loader does not support this command", "the ROM of this chip lacks the command; use the stub loader or another option") \
    XX(PROTO_BAD_REPLY, 205, "malformed reply from the loader", "serial noise or an unexpected loader version; retry, lower the baud") \
    XX(ROM_ERROR, 206, "the ROM loader reported an error", "see the decoded ROM error byte") \
    XX(STUB_ERROR, 207, "the flasher stub reported an error", "see the decoded stub error code") \
    XX(PROTO_BAD_ARG, 208, "request does not fit the protocol", "a request argument is out of range; this is an espfab bug, please report it")
#endif
