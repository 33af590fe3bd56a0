/*
 * gplpv_setup: the installer's helper (the MSI runs it as a custom action:
 * wixl cannot run a command from a directory, only from an installed file).
 *
 *   gplpv_setup install DIR     put the drivers in DIR into the driver store
 *                               and onto the devices present, in an order
 *                               that never hides the boot disk: xenvbd and
 *                               xennet first, the bus driver xenpci last
 *                               (xenpci unplugs the emulated disk only once
 *                               xenvbd is installed to start at boot)
 *   gplpv_setup uninstall DIR   the reverse: xenpci is disabled first, so
 *                               the next boot keeps QEMU's emulated disk and
 *                               NIC, then every package leaves the store
 *
 * Everything it does goes to stdout and %TEMP%\gplpv_setup.log.
 */
#include <windows.h>
#include <newdev.h>
#include <setupapi.h>
#include <stdio.h>
#include <wchar.h>

static FILE *setup_log;

static void setup_say(const wchar_t *fmt, const wchar_t *a, DWORD err)
{
    wchar_t line[600];
    _snwprintf(line, 599, fmt, a, (unsigned long)err);
    line[599] = 0;
    wprintf(L"%ls\n", line);
    if (setup_log)
        fwprintf(setup_log, L"%ls\n", line);
}

static const wchar_t *const setup_install_order[] = { L"xenvbd.inf", L"xennet.inf", L"xenpci.inf" };
static const wchar_t *const setup_remove_order[] = { L"xenpci.inf", L"xennet.inf", L"xenvbd.inf" };

typedef BOOL(WINAPI *setup_di_install_fn)(HWND, LPCWSTR, DWORD, PBOOL);

static int setup_install(const wchar_t *dir)
{
    int failed = 0;
    /* DiInstallDriverW is in newdev.dll from Vista on; mingw-w64's import
     * library lacks it, so it is looked up. */
    HMODULE newdev = LoadLibraryW(L"newdev.dll");
    setup_di_install_fn di_install =
        newdev ? (setup_di_install_fn)(void (*)(void))GetProcAddress(newdev, "DiInstallDriverW") : NULL;
    if (!di_install) {
        setup_say(L"gplpv_setup: %ls has no DiInstallDriverW: Windows Vista or later needed (%lu)",
                  L"newdev.dll", GetLastError());
        return 1;
    }
    for (int i = 0; i < 3; i++) {
        wchar_t inf[MAX_PATH];
        _snwprintf(inf, MAX_PATH - 1, L"%ls\\%ls", dir, setup_install_order[i]);
        inf[MAX_PATH - 1] = 0;
        if (GetFileAttributesW(inf) == INVALID_FILE_ATTRIBUTES) {
            setup_say(L"gplpv_setup: %ls missing: the package is incomplete (%lu)", inf, 0);
            failed = 1;
            break;
        }
        BOOL reboot = FALSE;
        if (di_install(NULL, inf, DIIRFLAG_FORCE_INF, &reboot)) {
            setup_say(reboot ? L"gplpv_setup: %ls installed (reboot needed)" : L"gplpv_setup: %ls installed",
                      inf, 0);
            continue;
        }
        DWORD err = GetLastError();
        if (err == ERROR_NO_SUCH_DEVINST || err == ERROR_NO_MORE_ITEMS) {
            /* No device for it yet (children appear once xenpci runs):
             * the package is in the driver store and PnP will use it. */
            setup_say(L"gplpv_setup: %ls staged for devices to come (%lu)", inf, err);
            continue;
        }
        setup_say(L"gplpv_setup: installing %ls failed: error %lu", inf, err);
        failed = 1;
        if (i < 2)
            break;                  /* never install xenpci without its disk driver */
    }
    return failed;
}

static void setup_disable_xenpci(void)
{
    HKEY k;
    if (RegOpenKeyExW(HKEY_LOCAL_MACHINE, L"SYSTEM\\CurrentControlSet\\Services\\xenpci", 0,
                      KEY_SET_VALUE, &k) != ERROR_SUCCESS)
        return;
    DWORD disabled = 4;
    LONG rc = RegSetValueExW(k, L"Start", 0, REG_DWORD, (const BYTE *)&disabled, sizeof(disabled));
    RegCloseKey(k);
    setup_say(L"gplpv_setup: xenpci disabled for the next boot (%ls, %lu)", L"Start=4", (DWORD)rc);
}

static int setup_uninstall(const wchar_t *dir)
{
    setup_disable_xenpci();
    for (int i = 0; i < 3; i++) {
        wchar_t inf[MAX_PATH], oem[MAX_PATH];
        PWSTR oem_name = NULL;
        _snwprintf(inf, MAX_PATH - 1, L"%ls\\%ls", dir, setup_remove_order[i]);
        inf[MAX_PATH - 1] = 0;
        /* REPLACEONLY: only tells which oemNN.inf holds this package. */
        if (!SetupCopyOEMInfW(inf, NULL, SPOST_NONE, SP_COPY_REPLACEONLY, oem, MAX_PATH, NULL,
                              &oem_name) || !oem_name) {
            setup_say(L"gplpv_setup: %ls is not in the driver store (%lu)", setup_remove_order[i],
                      GetLastError());
            continue;
        }
        if (SetupUninstallOEMInfW(oem_name, SUOI_FORCEDELETE, NULL))
            setup_say(L"gplpv_setup: %ls removed from the driver store", oem_name, 0);
        else
            setup_say(L"gplpv_setup: removing %ls failed: error %lu", oem_name, GetLastError());
    }
    return 0;
}

int wmain(int argc, wchar_t **argv);

int wmain(int argc, wchar_t **argv)
{
    wchar_t path[MAX_PATH];
    DWORD n = GetTempPathW(MAX_PATH - 20, path);
    if (n) {
        wcscat(path, L"gplpv_setup.log");
        setup_log = _wfopen(path, L"a");
    }
    int rc = 2;
    if (argc == 3 && !wcscmp(argv[1], L"install"))
        rc = setup_install(argv[2]);
    else if (argc == 3 && !wcscmp(argv[1], L"uninstall"))
        rc = setup_uninstall(argv[2]);
    else
        wprintf(L"usage: gplpv_setup install|uninstall DIR\n");
    if (setup_log)
        fclose(setup_log);
    return rc;
}
