/* diagnose.c - turning open/read failures into faults that name the port,
 * the cause and the fix (see diagnose.h). */
#include "port/diagnose.h"

#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

bool espfab_portdiag_is_usb_tty_name(const char *base)
{
    static const char *const prefixes[] = {"ttyUSB", "ttyACM", "ttyCH343USB", "ttyXRUSB"};
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        size_t n = strlen(prefixes[i]);
        if (strncmp(base, prefixes[i], n) == 0 && base[n] >= '0' && base[n] <= '9')
            return true;
    }
    return false;
}

static int cmp_names(const void *a, const void *b) { return strcmp(a, b); }

static void list_add(espfab_portdiag_list_t *l, const char *dir, const char *base)
{
    char full[sizeof(l->name[0])];
    int w = snprintf(full, sizeof(full), "%s%s%s", dir,
                     dir[0] && dir[strlen(dir) - 1] == '/' ? "" : "/", base);
    if (l->n >= PORTDIAG_MAX || w <= 0 || (size_t)w >= sizeof(full))
        return;
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->name[i], full))
            return;
    memcpy(l->name[l->n++], full, (size_t)w + 1);
}

void espfab_portdiag_list_dir(const char *dir, bool all, espfab_portdiag_list_t *out)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    size_t first = out->n;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (all || espfab_portdiag_is_usb_tty_name(e->d_name))
            list_add(out, dir, e->d_name);
    }
    closedir(d);
    qsort(out->name[first], out->n - first, sizeof(out->name[0]), cmp_names);
}

static void dir_of(const char *path, char *dir, size_t len)
{
    snprintf(dir, len, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, len, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
}

void espfab_portdiag_candidates(const char *path, const char *dev_dir, espfab_portdiag_list_t *out)
{
    char dir[PATH_MAX];
    out->n = 0;
    dir_of(path, dir, sizeof(dir));
    bool by_dir = strstr(dir, "/serial/by-") != NULL;
    espfab_portdiag_list_dir(dir, by_dir, out);
    if (strcmp(dir, dev_dir) != 0)
        espfab_portdiag_list_dir(dev_dir, false, out);
}

static bool looks_usb(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    return espfab_portdiag_is_usb_tty_name(base) || strstr(path, "/serial/by-") != NULL;
}

/* Appends "a, b, c" to buf (truncating with "..." when it does not fit). */
static void join_list(char *buf, size_t len, const espfab_portdiag_list_t *l)
{
    size_t n = strlen(buf);
    for (size_t i = 0; i < l->n && n < len; i++) {
        int w = snprintf(buf + n, len - n, "%s%s", i ? ", " : "", l->name[i]);
        if (w < 0 || (size_t)w >= len - n) {
            if (len > 4)
                memcpy(buf + len - 4, "...", 4);
            return;
        }
        n += (size_t)w;
    }
}

bool espfab_portdiag_process_running(const char *proc_root, const char *name)
{
    DIR *d = opendir(proc_root);
    if (!d)
        return false;
    bool found = false;
    struct dirent *e;
    char path[PATH_MAX], comm[64];
    while (!found && (e = readdir(d)) != NULL) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (*end || pid <= 0 || end == e->d_name)
            continue;
        snprintf(path, sizeof(path), "%s/%s/comm", proc_root, e->d_name);
        FILE *fp = fopen(path, "r");
        if (!fp)
            continue;
        if (fgets(comm, sizeof(comm), fp))
            found = strncmp(comm, name, strlen(name)) == 0;
        fclose(fp);
    }
    closedir(d);
    return found;
}

int espfab_portdiag_not_found(espfab_fault_t *f, const char *spec, const char *path,
                              const espfab_portdiag_list_t *c, bool brltty_running)
{
    char list[200] = "";
    join_list(list, sizeof(list), c);
    const char *resolved = strcmp(spec, path) ? path : NULL;
    const char *brl = brltty_running ? "; brltty is running and grabs CH340/CP210x adapters: "
                                       "sudo apt remove brltty"
                                     : "";
    if (c->n == 0) {
        if (looks_usb(path))
            return espfab_fault_errno(
                f, ESPFAB_E_PORT_NONE_PRESENT, ENOENT,
                "%s%s%s does not exist and no USB serial port (ttyUSB*/ttyACM*) "
                "is present%s",
                spec, resolved ? " -> " : "", resolved ? resolved : "", brl);
        return espfab_fault_errno(f, ESPFAB_E_PORT_NOT_FOUND, ENOENT,
                                  "%s%s%s does not exist (no USB serial port is present either)%s",
                                  spec, resolved ? " -> " : "", resolved ? resolved : "", brl);
    }
    return espfab_fault_errno(f, ESPFAB_E_PORT_NOT_FOUND, ENOENT,
                              "%s does not exist; present: %s%s", spec, list, brl);
}

void espfab_portdiag_perm_gather(const char *path, espfab_portdiag_perm_t *out)
{
    memset(out, 0, sizeof(*out));
    struct stat st;
    if (stat(path, &st) == 0) {
        out->have_stat = true;
        out->mode = st.st_mode;
        out->owner = st.st_uid;
        out->gid = st.st_gid;
    }
    uid_t uid = geteuid();
    struct passwd *pw = getpwuid(uid);
    gid_t primary = pw ? pw->pw_gid : getgid();
    if (pw)
        snprintf(out->user, sizeof(out->user), "%s", pw->pw_name);
    else
        snprintf(out->user, sizeof(out->user), "uid %u", (unsigned)uid);
    if (!out->have_stat)
        return;
    struct passwd *opw = getpwuid(out->owner);
    if (opw)
        snprintf(out->owner_name, sizeof(out->owner_name), "%s", opw->pw_name);
    struct group *gr = getgrgid(out->gid);
    if (gr) {
        snprintf(out->group_name, sizeof(out->group_name), "%s", gr->gr_name);
        if (primary == out->gid)
            out->user_in_group_db = true;
        for (char **m = gr->gr_mem; pw && m && *m; m++)
            if (!strcmp(*m, pw->pw_name))
                out->user_in_group_db = true;
    }
    if (getegid() == out->gid)
        out->process_in_group = true;
    int ng = getgroups(0, NULL);
    if (ng > 0) {
        gid_t *g = calloc((size_t)ng, sizeof(*g));
        if (g) {
            ng = getgroups(ng, g);
            for (int i = 0; i < ng; i++)
                if (g[i] == out->gid)
                    out->process_in_group = true;
            free(g);
        }
    }
}

int espfab_portdiag_permission(espfab_fault_t *f, const char *spec,
                               const espfab_portdiag_perm_t *in)
{
    int code = ESPFAB_E_PORT_PERMISSION;
    if (!in->have_stat)
        return espfab_fault_errno(f, code, EACCES,
                                  "%s: cannot even stat the node (a directory on the way is not "
                                  "readable); check the path's permissions",
                                  spec);
    char grp[80];
    if (in->group_name[0])
        snprintf(grp, sizeof(grp), "%s", in->group_name);
    else
        snprintf(grp, sizeof(grp), "%u", (unsigned)in->gid);
    unsigned perms = (unsigned)(in->mode & 0777);
    bool group_rw = (in->mode & S_IRGRP) && (in->mode & S_IWGRP);
    if (!group_rw) /* PORT_PERMISSION's fix (err_port.h) covers this case too */
        return espfab_fault_errno(
            f, code, EACCES,
            "%s is mode %03o owner %s group %s: the group cannot read+write it, "
            "so joining it will not help; add a udev rule "
            "(MODE=\"0660\", GROUP=\"%s\") or chmod 660 it",
            spec, perms, in->owner_name[0] ? in->owner_name : "?", grp, grp);
    if (in->process_in_group)
        return espfab_fault_errno(f, code, EACCES,
                                  "%s is group %s mode %03o and %s is in %s, yet access was denied "
                                  "(ACL or security module); add a udev rule giving %s access",
                                  spec, grp, perms, in->user, grp, in->user);
    if (in->user_in_group_db)
        return espfab_fault_errno(f, code, EACCES,
                                  "%s is group %s: %s is listed in group %s but this login session "
                                  "started before that; log out and in again (or run `newgrp %s`)",
                                  spec, grp, in->user, grp, grp);
    return espfab_fault_errno(f, code, EACCES,
                              "%s is group %s mode %03o: run `sudo usermod -aG %s $USER` then log "
                              "in again (or add a udev rule)",
                              spec, grp, perms, grp);
}

static int cmp_holder(const void *a, const void *b)
{
    const espfab_portdiag_holder_t *x = a, *y = b;
    return (x->pid > y->pid) - (x->pid < y->pid);
}

size_t espfab_portdiag_find_holders(const char *proc_root, const char *dev,
                                    espfab_portdiag_holder_t *out, size_t max)
{
    DIR *d = opendir(proc_root);
    if (!d)
        return 0;
    size_t found = 0;
    struct dirent *e;
    char fddir[PATH_MAX], link[PATH_MAX * 2], target[PATH_MAX];
    while ((e = readdir(d)) != NULL) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (*end || pid <= 0 || end == e->d_name)
            continue;
        snprintf(fddir, sizeof(fddir), "%s/%s/fd", proc_root, e->d_name);
        DIR *fdd = opendir(fddir);
        if (!fdd)
            continue;
        int holds = 0;
        struct dirent *fe;
        while ((fe = readdir(fdd)) != NULL) {
            if (fe->d_name[0] == '.')
                continue;
            snprintf(link, sizeof(link), "%s/%s", fddir, fe->d_name);
            ssize_t n = readlink(link, target, sizeof(target) - 1);
            if (n <= 0)
                continue;
            target[n] = '\0';
            holds += strcmp(target, dev) == 0;
        }
        closedir(fdd);
        if (!holds)
            continue;
        if (found < max) {
            espfab_portdiag_holder_t *h = &out[found];
            h->pid = (int)pid;
            h->nfds = holds;
            snprintf(h->comm, sizeof(h->comm), "?");
            snprintf(link, sizeof(link), "%s/%s/comm", proc_root, e->d_name);
            FILE *cf = fopen(link, "r");
            if (cf) {
                if (fgets(h->comm, sizeof(h->comm), cf))
                    h->comm[strcspn(h->comm, "\n")] = '\0';
                fclose(cf);
            }
        }
        found++;
    }
    closedir(d);
    qsort(out, found < max ? found : max, sizeof(*out), cmp_holder);
    return found;
}

size_t espfab_portdiag_holders_drop(espfab_portdiag_holder_t *h, size_t n, int pid)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (h[i].pid == pid && --h[i].nfds <= 0)
            continue;
        h[k++] = h[i];
    }
    return k;
}

int espfab_portdiag_busy(espfab_fault_t *f, const char *spec, const espfab_portdiag_holder_t *h,
                         size_t n)
{
    if (n == 0)
        return espfab_fault_errno(f, ESPFAB_E_PORT_BUSY, EBUSY,
                                  "%s is in use, but no process visible in /proc holds it (another "
                                  "user's process: run `sudo fuser -v %s`)",
                                  spec, spec);
    char who[160] = "";
    size_t len = 0;
    bool mm = false, brl = false;
    for (size_t i = 0; i < n && len < sizeof(who); i++) {
        int w = snprintf(who + len, sizeof(who) - len, "%s%s (pid %d)", i ? ", " : "", h[i].comm,
                         h[i].pid);
        if (w < 0)
            break;
        len += (size_t)w;
        mm |= !strcmp(h[i].comm, "ModemManager");
        brl |= !strncmp(h[i].comm, "brltty", 6);
    }
    return espfab_fault_errno(f, ESPFAB_E_PORT_BUSY, EBUSY, "%s is held by %s%s%s", spec, who,
                              mm ? "; stop it: sudo systemctl disable --now ModemManager" : "",
                              brl ? "; remove it: sudo apt remove brltty" : "");
}

static bool in_list(const espfab_portdiag_list_t *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->name[i], name))
            return true;
    return false;
}

int espfab_portdiag_vanished(espfab_fault_t *f, int code, int err, const char *spec,
                             const char *path, const char *what, bool node_gone,
                             const espfab_portdiag_list_t *before,
                             const espfab_portdiag_list_t *now)
{
    char extra[200] = "";
    size_t n = 0;
#define ADD(...)                                                                                   \
    do {                                                                                           \
        if (n < sizeof(extra)) {                                                                   \
            int w_ = snprintf(extra + n, sizeof(extra) - n, __VA_ARGS__);                          \
            if (w_ > 0)                                                                            \
                n += (size_t)w_;                                                                   \
        }                                                                                          \
    } while (0)
    if (node_gone)
        ADD("; the device node is gone");
    if (strstr(spec, "/serial/by-path/"))
        ADD("; it was a by-path link (this USB socket): the board left that socket");
    else if (strstr(spec, "/serial/by-id/"))
        ADD("; it was a by-id link (this board's serial number): the board re-enumerated or "
            "was unplugged");
    if (before && now) {
        for (size_t i = 0; i < now->n; i++)
            if (!in_list(before, now->name[i]) && strcmp(now->name[i], path) != 0) {
                ADD("; new port %s appeared (USB re-enumeration)", now->name[i]);
                break;
            }
    }
#undef ADD
    return espfab_fault_errno(f, code, err, "%s: %s%s", spec, what, extra);
}
