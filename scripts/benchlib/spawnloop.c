/* spawnloop SECONDS JOBS PROGRAM: the floor of CGI hosting.  JOBS processes
 * each fork+exec+wait PROGRAM (stdin and stdout /dev/null, a one-variable
 * environment) in a loop for SECONDS; prints "COUNT ELAPSED_SECONDS". */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fputs("usage: spawnloop SECONDS JOBS PROGRAM\n", stderr);
        return 2;
    }
    double seconds = atof(argv[1]);
    int jobs = atoi(argv[2]);
    char *prog = argv[3];
    char *args[] = {prog, NULL};
    char *env[] = {"PATH=/usr/local/bin:/usr/bin:/bin", "GATEWAY_INTERFACE=CGI/1.1",
                   "REQUEST_METHOD=GET", NULL};
    long *counts = mmap(NULL, sizeof(long) * jobs, PROT_READ | PROT_WRITE,
                        MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (counts == MAP_FAILED)
        return 2;
    int devnull = open("/dev/null", O_RDWR);
    double start = now(), deadline = start + seconds;
    for (int j = 0; j < jobs; j++) {
        if (fork() == 0) {
            long n = 0;
            while (now() < deadline) {
                pid_t pid = fork();
                if (pid == 0) {
                    dup2(devnull, 0);
                    dup2(devnull, 1);
                    execve(prog, args, env);
                    _exit(127);
                }
                int status;
                if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
                    _exit(1);
                n++;
            }
            counts[j] = n;
            _exit(0);
        }
    }
    int failed = 0, status;
    while (wait(&status) > 0)
        failed |= !WIFEXITED(status) || WEXITSTATUS(status);
    long total = 0;
    for (int j = 0; j < jobs; j++)
        total += counts[j];
    printf("%ld %.6f\n", total, now() - start);
    return failed;
}
