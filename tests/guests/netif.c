/* The guest's view of its network interfaces: the device ioctls (SIOCGIF*) and
 * rtnetlink (NETLINK_ROUTE dumps of links and addresses), checked on the loopback
 * interface `lo`, which every Linux has. Lines about other interfaces (the host has
 * more than vkernel's guest) are "value" lines.
 *
 * Modes (argv[1]):
 *   ioctl     SIOCGIFCONF, then lo's flags, MTU, index, hardware address and name by
 *             index (SIOCGIFADDR is ENOTTY on the AF_UNIX socket asked); ENODEV for
 *             a missing interface
 *   netlink   an RTM_GETLINK and an RTM_GETADDR dump: lo's index, MTU and IPv4
 *             address; errors for other socket types and protocols
 *   asked     an RTM_GETLINK dump sent, the answer read only a second later (a
 *             checkpoint and thaw in between must keep it)
 */
#include "posix.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

/* The netlink ABI, spelled out: musl ships no <linux/netlink.h>. */
enum { NL_ROUTE = 0, RTM_GETLINK = 18, RTM_NEWLINK = 16, RTM_GETADDR = 22, RTM_NEWADDR = 20 };
enum { NL_DONE = 3, NL_F_REQUEST = 1, NL_F_DUMP = 0x300 };
enum { LINK_IFNAME = 3, LINK_MTU = 4, ADDR_ADDRESS = 1 };

struct nl_hdr {
    uint32_t len;
    uint16_t type, flags;
    uint32_t seq, pid;
};

struct nl_addr {
    sa_family_t family;
    unsigned short pad;
    uint32_t pid, groups;
};

struct link_msg {
    unsigned char family, pad;
    unsigned short type;
    int index;
    unsigned flags, change;
};

struct addr_msg {
    unsigned char family, prefixlen, flags, scope;
    uint32_t index;
};

struct attr {
    unsigned short len, type;
};

#define ALIGN4(n) (((n) + 3u) & ~3u)

/* Calls `each(type, payload, length)` for every attribute after a fixed part. */
static void attrs(struct nl_hdr *h, size_t fixed, void (*each)(int, void *, void *), void *ctx) {
    size_t at = ALIGN4(sizeof *h + fixed);
    while (at + sizeof(struct attr) <= h->len) {
        struct attr *a = (struct attr *)((char *)h + at);
        if (a->len < sizeof *a || at + a->len > h->len)
            break;
        each(a->type, a + 1, ctx);
        at += ALIGN4(a->len);
    }
}

static const char *ip4(const struct sockaddr *sa) {
    static char buf[INET_ADDRSTRLEN];
    return inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, buf, sizeof buf);
}

static int query(int fd, unsigned long req, struct ifreq *r, const char *name) {
    memset(r, 0, sizeof *r);
    strncpy(r->ifr_name, name, IFNAMSIZ - 1);
    return ioctl(fd, req, r);
}

static void ioctls(void) {
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    CHECK(fd >= 0, "socket");
    struct ifconf ifc = {.ifc_len = 0, .ifc_buf = NULL};
    CHECK(ioctl(fd, SIOCGIFCONF, &ifc) == 0 && ifc.ifc_len > 0, "SIOCGIFCONF size");
    struct ifreq reqs[16];
    ifc.ifc_len = sizeof reqs;
    ifc.ifc_req = reqs;
    CHECK(ioctl(fd, SIOCGIFCONF, &ifc) == 0, "SIOCGIFCONF");
    int lo = 0;
    for (size_t i = 0; i < ifc.ifc_len / sizeof reqs[0]; i++) {
        printf("value SIOCGIFCONF %s %s\n", reqs[i].ifr_name, ip4(&reqs[i].ifr_addr));
        lo |= strcmp(reqs[i].ifr_name, "lo") == 0 && strcmp(ip4(&reqs[i].ifr_addr), "127.0.0.1") == 0;
    }
    printf("SIOCGIFCONF lists lo at 127.0.0.1: %s\n", lo ? "yes" : "no");
    struct ifreq r;
    CHECK(query(fd, SIOCGIFFLAGS, &r, "lo") == 0, "SIOCGIFFLAGS");
    int want = IFF_UP | IFF_LOOPBACK | IFF_RUNNING;
    printf("lo flags UP LOOPBACK RUNNING: %s\n", (r.ifr_flags & want) == want ? "yes" : "no");
    /* Addresses are the IPv4 layer's business: ENOTTY on other sockets. */
    errno = 0;
    CHECK(query(fd, SIOCGIFADDR, &r, "lo") < 0, "SIOCGIFADDR on AF_UNIX");
    printf("SIOCGIFADDR on an AF_UNIX socket: %s\n", strerror(errno));
    CHECK(query(fd, SIOCGIFMTU, &r, "lo") == 0, "SIOCGIFMTU");
    printf("lo mtu %d\n", r.ifr_mtu);
    CHECK(query(fd, SIOCGIFINDEX, &r, "lo") == 0, "SIOCGIFINDEX");
    int index = r.ifr_ifindex;
    printf("lo index %d\n", index);
    CHECK(query(fd, SIOCGIFHWADDR, &r, "lo") == 0, "SIOCGIFHWADDR");
    unsigned char *hw = (unsigned char *)r.ifr_hwaddr.sa_data;
    printf("lo link type %d, hardware address %02x:%02x:%02x:%02x:%02x:%02x\n",
           r.ifr_hwaddr.sa_family, hw[0], hw[1], hw[2], hw[3], hw[4], hw[5]);
    memset(&r, 0, sizeof r);
    r.ifr_ifindex = index;
    CHECK(ioctl(fd, SIOCGIFNAME, &r) == 0, "SIOCGIFNAME");
    printf("interface %d is %s\n", index, r.ifr_name);
    errno = 0;
    printf("nosuch0: %s\n", query(fd, SIOCGIFFLAGS, &r, "nosuch0") < 0 ? strerror(errno) : "found");
    close(fd);
}

/* Sends one dump request of `type` on a new NETLINK_ROUTE socket. */
static int ask(int type) {
    int fd = socket(AF_NETLINK, SOCK_RAW, NL_ROUTE);
    CHECK(fd >= 0, "socket(AF_NETLINK)");
    struct {
        struct nl_hdr h;
        unsigned char family;
        unsigned char pad[15];
    } req = {{sizeof req, (unsigned short)type, NL_F_REQUEST | NL_F_DUMP, 1, 0}, AF_UNSPEC, {0}};
    struct nl_addr kernel = {.family = AF_NETLINK};
    CHECK(sendto(fd, &req, sizeof req, 0, (struct sockaddr *)&kernel, sizeof kernel) == sizeof req,
          "send the request");
    return fd;
}

/* Reads the dump's datagrams to NLMSG_DONE, calling `each` per message. */
static void read_dump(int fd, void (*each)(struct nl_hdr *)) {
    static char buf[65536];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        CHECK(n > 0, "recv the answer");
        if (n <= 0)
            return;
        size_t at = 0;
        while (at + sizeof(struct nl_hdr) <= (size_t)n) {
            struct nl_hdr *h = (struct nl_hdr *)(buf + at);
            if (h->len < sizeof *h || at + h->len > (size_t)n)
                break;
            if (h->type == NL_DONE)
                return;
            each(h);
            at += ALIGN4(h->len);
        }
    }
}

struct link_info {
    const char *name;
    unsigned mtu;
};

static void link_attr(int type, void *data, void *ctx) {
    struct link_info *li = ctx;
    if (type == LINK_IFNAME)
        li->name = data;
    if (type == LINK_MTU)
        memcpy(&li->mtu, data, sizeof li->mtu);
}

static void on_link(struct nl_hdr *h) {
    CHECK(h->type == RTM_NEWLINK, "a link");
    struct link_msg *ifi = (struct link_msg *)(h + 1);
    struct link_info li = {"?", 0};
    attrs(h, sizeof *ifi, link_attr, &li);
    printf("%slink %s index %d mtu %u loopback %s\n", strcmp(li.name, "lo") ? "value " : "",
           li.name, ifi->index, li.mtu, ifi->flags & IFF_LOOPBACK ? "yes" : "no");
}

struct addr_info {
    int family;
    char text[INET6_ADDRSTRLEN];
};

static void addr_attr(int type, void *data, void *ctx) {
    struct addr_info *ai = ctx;
    if (type == ADDR_ADDRESS)
        inet_ntop(ai->family, data, ai->text, sizeof ai->text);
}

static void on_addr(struct nl_hdr *h) {
    CHECK(h->type == RTM_NEWADDR, "an address");
    struct addr_msg *ifa = (struct addr_msg *)(h + 1);
    struct addr_info ai = {ifa->family, "?"};
    attrs(h, sizeof *ifa, addr_attr, &ai);
    int stable = ifa->family == AF_INET && strcmp(ai.text, "127.0.0.1") == 0;
    printf("%saddress %s/%d on interface %u\n", stable ? "" : "value ", ai.text, ifa->prefixlen,
           ifa->index);
}

static void netlink(void) {
    int fd = ask(RTM_GETLINK);
    read_dump(fd, on_link);
    struct nl_addr me;
    socklen_t len = sizeof me;
    CHECK(getsockname(fd, (struct sockaddr *)&me, &len) == 0 && len == sizeof me, "getsockname");
    printf("bound to our pid: %s\n", me.pid == (unsigned)getpid() ? "yes" : "no");
    close(fd);
    fd = ask(RTM_GETADDR);
    read_dump(fd, on_addr);
    close(fd);
    errno = 0;
    CHECK(socket(AF_NETLINK, SOCK_STREAM, NL_ROUTE) < 0, "a stream netlink socket");
    printf("SOCK_STREAM: %s\n", strerror(errno));
    errno = 0;
    CHECK(socket(AF_NETLINK, SOCK_RAW, 32) < 0, "protocol 32");
    printf("protocol 32: %s\n", strerror(errno));
}

static void asked(void) {
    int fd = ask(RTM_GETLINK);
    printf("asked\n");
    fflush(stdout);
    vk_msleep(1000);
    read_dump(fd, on_link);
}

static const struct vk_mode modes[] = {
    {"ioctl", ioctls},
    {"netlink", netlink},
    {"asked", asked},
    {NULL, NULL},
};

int main(int argc, char **argv) { return vk_main("netif", modes, argc, argv); }
