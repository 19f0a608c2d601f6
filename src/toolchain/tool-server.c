/*
 * A tool server: preloaded (LD_PRELOAD) into an LLVM/MLIR command-line tool
 * with ORT_MLIR_TOOL_SERVER set, it takes over the tool's process before
 * main and runs the tool once per request in a forked child. The child
 * starts where the tool's start-up left off (shared libraries loaded and
 * relocated, static constructors run: most of mlir-opt's 0.1 s start), so
 * a compile's many tool runs pay that once per tool (tool-server.ts).
 *
 * Protocol, lines over stdin/stdout (fields separated by tabs, so no field
 * may hold a tab or a newline):
 *   -> ID OUT_FILE ERR_FILE ARG...     run the tool with ARG..., its stdout
 *                                      and stderr written to the two files
 *   <- ready                           once, when the server listens
 *   <- started ID PID                  the child's pid, which is also its
 *                                      process group (for a timeout's kill)
 *   <- exited ID CODE SIGNAL           CODE when it exited, else -1 and the
 *                                      signal that ended it
 * End of stdin ends the server and kills the children still running.
 * Without ORT_MLIR_TOOL_SERVER the tool runs as if nothing were preloaded.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define SERVER_ENV "ORT_MLIR_TOOL_SERVER"
#define MAX_ARGS 1024
#define MAX_CHILDREN 256
/* Any file a tool writes, its outputs included: far above a compile's objects, far below a full disk. */
#define MAX_FILE_BYTES (1L << 30)

typedef int (*main_fn)(int, char **, char **);
typedef int (*start_fn)(main_fn, int, char **, void (*)(void), void (*)(void), void (*)(void), void *);

static main_fn tool_main;
static int child_pipe[2] = {-1, -1};
static struct {
  pid_t pid;
  long id;
} children[MAX_CHILDREN];

static void on_child(int sig) {
  (void)sig;
  int saved = errno;
  ssize_t ignored = write(child_pipe[1], "c", 1);
  (void)ignored;
  errno = saved;
}

static void say(const char *line) {
  size_t n = strlen(line);
  while (n > 0) {
    ssize_t w = write(STDOUT_FILENO, line, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) exit(1);
    line += w;
    n -= (size_t)w;
  }
}

static int redirect(const char *path, int fd, int flags) {
  int f = open(path, flags, 0600);
  if (f < 0) return -1;
  int ok = dup2(f, fd);
  close(f);
  return ok;
}

/*
 * In the forked child: the tool's main over the server's own arguments (the
 * tool; for a script, its interpreter and the script) and the request's.
 */
static void run_tool(int server_argc, char **server_argv, char **fields, int count, char **envp) {
  setpgid(0, 0);
  signal(SIGCHLD, SIG_DFL);
  close(child_pipe[0]);
  close(child_pipe[1]);
  if (redirect("/dev/null", STDIN_FILENO, O_RDONLY) < 0 || redirect(fields[1], STDOUT_FILENO, O_WRONLY | O_CREAT | O_TRUNC) < 0 ||
      redirect(fields[2], STDERR_FILENO, O_WRONLY | O_CREAT | O_TRUNC) < 0)
    _exit(126);
  struct rlimit limit = {MAX_FILE_BYTES, MAX_FILE_BYTES};
  setrlimit(RLIMIT_FSIZE, &limit);
  unsetenv(SERVER_ENV);
  unsetenv("LD_PRELOAD");
  char *argv[2 * MAX_ARGS + 1];
  int argc = 0;
  for (int i = 0; i < server_argc && i < MAX_ARGS; i++) argv[argc++] = server_argv[i];
  for (int i = 3; i < count; i++) argv[argc++] = fields[i];
  argv[argc] = NULL;
  exit(tool_main(argc, argv, envp));
}

static void start(char *line, int server_argc, char **server_argv, char **envp) {
  char *fields[MAX_ARGS + 3];
  int count = 0;
  for (char *save = NULL, *f = strtok_r(line, "\t", &save); f && count < MAX_ARGS + 3; f = strtok_r(NULL, "\t", &save)) fields[count++] = f;
  if (count < 3) return;
  long id = strtol(fields[0], NULL, 10);
  int slot = 0;
  while (slot < MAX_CHILDREN && children[slot].pid != 0) slot++;
  char reply[96];
  pid_t pid = slot < MAX_CHILDREN ? fork() : -1;
  if (pid == 0) run_tool(server_argc, server_argv, fields, count, envp);
  if (pid < 0) {
    snprintf(reply, sizeof reply, "exited %ld 127 0\n", id);
    say(reply);
    return;
  }
  children[slot].pid = pid;
  children[slot].id = id;
  snprintf(reply, sizeof reply, "started %ld %d\n", id, (int)pid);
  say(reply);
}

static void reap(void) {
  int status;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    for (int i = 0; i < MAX_CHILDREN; i++) {
      if (children[i].pid != pid) continue;
      char reply[96];
      int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
      snprintf(reply, sizeof reply, "exited %ld %d %d\n", children[i].id, code, sig);
      say(reply);
      children[i].pid = 0;
    }
  }
}

static void kill_children(void) {
  for (int i = 0; i < MAX_CHILDREN; i++)
    if (children[i].pid != 0) kill(-children[i].pid, SIGKILL);
}

static int serve(int argc, char **argv, char **envp) {
  if (pipe2(child_pipe, O_CLOEXEC | O_NONBLOCK) < 0) return 1;
  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_child;
  sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
  sigaction(SIGCHLD, &sa, NULL);
  say("ready\n");
  static char buf[1 << 20];
  size_t used = 0;
  for (;;) {
    struct pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {child_pipe[0], POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[1].revents) {
      char drain[64];
      while (read(child_pipe[0], drain, sizeof drain) > 0) {
      }
      reap();
    }
    if (!fds[0].revents) continue;
    ssize_t n = read(STDIN_FILENO, buf + used, sizeof buf - 1 - used);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    used += (size_t)n;
    char *line = buf, *end;
    while ((end = memchr(line, '\n', used - (size_t)(line - buf))) != NULL) {
      *end = '\0';
      start(line, argc, argv, envp);
      line = end + 1;
    }
    used -= (size_t)(line - buf);
    memmove(buf, line, used);
    /* A line longer than the buffer can never complete: nothing sends one. */
    if (used == sizeof buf - 1) break;
  }
  kill_children();
  return 0;
}

static int choose(int argc, char **argv, char **envp) {
  return getenv(SERVER_ENV) ? serve(argc, argv, envp) : tool_main(argc, argv, envp);
}

int __libc_start_main(main_fn main, int argc, char **argv, void (*init)(void), void (*fini)(void), void (*rtld_fini)(void), void *stack_end) {
  tool_main = main;
  start_fn next = (start_fn)dlsym(RTLD_NEXT, "__libc_start_main");
  return next(choose, argc, argv, init, fini, rtld_fini, stack_end);
}
