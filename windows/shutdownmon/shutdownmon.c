/*
 * shutdownmon: the Windows service that carries out what dom0 asks through
 * control/shutdown.  xenpci sees the request and acknowledges it in
 * xenstore; this service waits on \\.\XenPci for it and performs it with
 * the Win32 calls a kernel driver cannot make: power off, reboot, halt
 * (power off) and hibernate.  Suspend for save/restore/migration needs
 * no user space and stays in xenpci.
 *
 *   shutdownmon            run as the service (the installer registers it)
 *   shutdownmon -once N    console test: wait up to N seconds, print the
 *                          action received, perform nothing
 */
#include <windows.h>
#include <powrprof.h>
#include <stdio.h>
#include <string.h>

#include "xenpci_ioctl.h"

#define SHUTDOWNMON_NAME "shutdownmon"

static SERVICE_STATUS_HANDLE shutdownmon_handle;
static SERVICE_STATUS shutdownmon_status;
static HANDLE shutdownmon_stop;

static void shutdownmon_log(const char *fmt, const char *arg)
{
    char line[256];
    snprintf(line, sizeof(line), fmt, arg);
    OutputDebugStringA(line);
    HANDLE ev = RegisterEventSourceA(NULL, SHUTDOWNMON_NAME);
    if (ev) {
        const char *strings[1] = { line };
        ReportEventA(ev, EVENTLOG_INFORMATION_TYPE, 0, 1, NULL, 1, 0, strings, NULL);
        DeregisterEventSource(ev);
    }
}

static BOOL shutdownmon_privilege(void)
{
    HANDLE tok;
    TOKEN_PRIVILEGES tp = { .PrivilegeCount = 1 };
    if (!OpenProcessToken(GetCurrentProcess(), TOKEN_ADJUST_PRIVILEGES | TOKEN_QUERY, &tok))
        return FALSE;
    BOOL ok = LookupPrivilegeValueA(NULL, SE_SHUTDOWN_NAME, &tp.Privileges[0].Luid);
    tp.Privileges[0].Attributes = SE_PRIVILEGE_ENABLED;
    ok = ok && AdjustTokenPrivileges(tok, FALSE, &tp, 0, NULL, NULL) &&
         GetLastError() == ERROR_SUCCESS;
    CloseHandle(tok);
    return ok;
}

static const char *shutdownmon_action_name(DWORD a)
{
    switch (a) {
    case XENPCI_ACTION_POWEROFF: return "poweroff";
    case XENPCI_ACTION_REBOOT: return "reboot";
    case XENPCI_ACTION_HALT: return "halt";
    case XENPCI_ACTION_HIBERNATE: return "hibernate";
    default: return "none";
    }
}

static void shutdownmon_perform(DWORD action)
{
    shutdownmon_log("shutdownmon: dom0 asked for %s", shutdownmon_action_name(action));
    if (!shutdownmon_privilege())
        shutdownmon_log("shutdownmon: %s", "SeShutdownPrivilege not granted");
    switch (action) {
    case XENPCI_ACTION_POWEROFF:
    case XENPCI_ACTION_HALT:
    case XENPCI_ACTION_REBOOT:
        if (!InitiateSystemShutdownExA(NULL, (LPSTR) "Xen: shutdown requested by dom0", 0, TRUE,
                                       action == XENPCI_ACTION_REBOOT,
                                       SHTDN_REASON_MAJOR_OTHER | SHTDN_REASON_FLAG_PLANNED))
            shutdownmon_log("shutdownmon: %s failed", "InitiateSystemShutdownEx");
        break;
    case XENPCI_ACTION_HIBERNATE:
        if (!SetSuspendState(TRUE, TRUE, FALSE))
            shutdownmon_log("shutdownmon: %s failed (is hibernation enabled? powercfg /h on)",
                            "SetSuspendState");
        break;
    default:
        break;
    }
}

/* One wait on xenpci: the action, 0 on timeout, or (DWORD)-1 when the
 * device is not there. */
static DWORD shutdownmon_wait(HANDLE dev, DWORD timeout_ms)
{
    struct xenpci_ioctl_args a = { .timeout_ms = timeout_ms };
    DWORD got = 0;
    if (!DeviceIoControl(dev, IOCTL_XENPCI_WAIT_SHUTDOWN, &a, sizeof(a), &a, sizeof(a), &got, NULL))
        return (DWORD)-1;
    return a.result;
}

static void shutdownmon_loop(void)
{
    HANDLE dev = INVALID_HANDLE_VALUE;
    while (WaitForSingleObject(shutdownmon_stop, 0) != WAIT_OBJECT_0) {
        if (dev == INVALID_HANDLE_VALUE) {
            dev = CreateFileA(XENPCI_DEVICE_PATH, GENERIC_READ | GENERIC_WRITE, 0, NULL,
                              OPEN_EXISTING, 0, NULL);
            if (dev == INVALID_HANDLE_VALUE) {
                WaitForSingleObject(shutdownmon_stop, 5000);   /* xenpci not (yet) there */
                continue;
            }
        }
        DWORD action = shutdownmon_wait(dev, 2000);
        if (action == (DWORD)-1) {
            CloseHandle(dev);
            dev = INVALID_HANDLE_VALUE;
            continue;
        }
        if (action != XENPCI_ACTION_NONE)
            shutdownmon_perform(action);
    }
    if (dev != INVALID_HANDLE_VALUE)
        CloseHandle(dev);
}

static void shutdownmon_report(DWORD state)
{
    shutdownmon_status.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
    shutdownmon_status.dwCurrentState = state;
    shutdownmon_status.dwControlsAccepted = state == SERVICE_RUNNING ? SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN : 0;
    SetServiceStatus(shutdownmon_handle, &shutdownmon_status);
}

static DWORD WINAPI shutdownmon_control(DWORD ctl, DWORD type, LPVOID data, LPVOID ctx)
{
    (void)type;
    (void)data;
    (void)ctx;
    if (ctl == SERVICE_CONTROL_STOP || ctl == SERVICE_CONTROL_SHUTDOWN) {
        shutdownmon_report(SERVICE_STOP_PENDING);
        SetEvent(shutdownmon_stop);
    }
    return NO_ERROR;
}

static void WINAPI shutdownmon_main(DWORD argc, LPSTR *argv)
{
    (void)argc;
    (void)argv;
    shutdownmon_handle = RegisterServiceCtrlHandlerExA(SHUTDOWNMON_NAME, shutdownmon_control, NULL);
    if (!shutdownmon_handle)
        return;
    shutdownmon_report(SERVICE_RUNNING);
    shutdownmon_loop();
    shutdownmon_report(SERVICE_STOPPED);
}

int main(int argc, char **argv)
{
    shutdownmon_stop = CreateEventA(NULL, TRUE, FALSE, NULL);
    if (argc == 3 && !strcmp(argv[1], "-once")) {
        HANDLE dev = CreateFileA(XENPCI_DEVICE_PATH, GENERIC_READ | GENERIC_WRITE, 0, NULL,
                                 OPEN_EXISTING, 0, NULL);
        if (dev == INVALID_HANDLE_VALUE) {
            printf("shutdownmon: %s not present (xenpci not running)\n", XENPCI_DEVICE_PATH);
            return 2;
        }
        DWORD a = shutdownmon_wait(dev, (DWORD)atoi(argv[2]) * 1000u);
        printf("shutdownmon: action %s\n", a == (DWORD)-1 ? "error" : shutdownmon_action_name(a));
        CloseHandle(dev);
        return 0;
    }
    SERVICE_TABLE_ENTRYA table[] = { { (LPSTR)SHUTDOWNMON_NAME, shutdownmon_main }, { NULL, NULL } };
    if (!StartServiceCtrlDispatcherA(table)) {
        printf("shutdownmon: run it as a service (or: shutdownmon -once SECONDS)\n");
        return 1;
    }
    return 0;
}
