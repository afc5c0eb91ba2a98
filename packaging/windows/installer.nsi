; Playmark's Windows installer (NSIS, built by packaging/windows/build).
; A per-user install (no administrator rights): the program in
; %LocalAppData%\Programs\Playmark, a Start menu entry, an uninstaller
; (Settings > Apps), and, if chosen, start at login: the same
; Startup\playmark.lnk that Playmark's own "Start at login" switch writes.
; Silent: Playmark-Setup-VERSION.exe /S [/LOGIN] [/D=DIR];
; uninstall silently: Uninstall.exe /S. The config dir
; (%AppData%\playmark) and the tokens in the Credential Manager are kept.
; 64-bit, as playmark.exe is (and wine64 runs it without 32-bit Wine).
Target amd64-unicode
!include "MUI2.nsh"
!include "FileFunc.nsh"
!include "Sections.nsh"

Name "Playmark"
OutFile "${OUT}"
InstallDir "$LOCALAPPDATA\Programs\Playmark"
InstallDirRegKey HKCU "Software\Playmark" "InstallDir"
RequestExecutionLevel user
SetCompressor /SOLID lzma

VIProductVersion "${VERSIONNUM}"
VIAddVersionKey "ProductName" "Playmark"
VIAddVersionKey "ProductVersion" "${VERSION}"
VIAddVersionKey "FileVersion" "${VERSION}"
VIAddVersionKey "FileDescription" "Playmark ${VERSION} setup"
VIAddVersionKey "LegalCopyright" "Playmark"

!define UNINST_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\Playmark"
!define MUI_ICON "${ICON}"
!define MUI_UNICON "${ICON}"
!define MUI_FINISHPAGE_RUN "$INSTDIR\playmark.exe"
!define MUI_FINISHPAGE_RUN_TEXT "Start Playmark"

!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_COMPONENTS
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_LANGUAGE "English"

Section "Playmark" SecMain
  SectionIn RO
  SetOutPath "$INSTDIR"
  File "/oname=playmark.exe" "${EXE}"
  WriteUninstaller "$INSTDIR\Uninstall.exe"
  CreateShortcut "$SMPROGRAMS\Playmark.lnk" "$INSTDIR\playmark.exe"
  WriteRegStr HKCU "Software\Playmark" "InstallDir" "$INSTDIR"
  WriteRegStr HKCU "${UNINST_KEY}" "DisplayName" "Playmark"
  WriteRegStr HKCU "${UNINST_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKCU "${UNINST_KEY}" "Publisher" "Playmark"
  WriteRegStr HKCU "${UNINST_KEY}" "DisplayIcon" "$INSTDIR\playmark.exe"
  WriteRegStr HKCU "${UNINST_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKCU "${UNINST_KEY}" "UninstallString" '"$INSTDIR\Uninstall.exe"'
  WriteRegStr HKCU "${UNINST_KEY}" "QuietUninstallString" '"$INSTDIR\Uninstall.exe" /S'
  WriteRegDWORD HKCU "${UNINST_KEY}" "NoModify" 1
  WriteRegDWORD HKCU "${UNINST_KEY}" "NoRepair" 1
SectionEnd

Section /o "Start Playmark at login (in the tray)" SecLogin
  CreateShortcut "$SMSTARTUP\playmark.lnk" "$INSTDIR\playmark.exe" "--hidden"
SectionEnd

; /LOGIN on the command line selects start at login (for /S installs).
Function .onInit
  ${GetParameters} $R0
  ClearErrors
  ${GetOptions} $R0 "/LOGIN" $R1
  IfErrors +2 0
  !insertmacro SelectSection ${SecLogin}
FunctionEnd

Section "Uninstall"
  Delete "$SMSTARTUP\playmark.lnk"
  Delete "$SMPROGRAMS\Playmark.lnk"
  Delete /REBOOTOK "$INSTDIR\playmark.exe"
  Delete "$INSTDIR\Uninstall.exe"
  RMDir "$INSTDIR"
  DeleteRegKey HKCU "${UNINST_KEY}"
  DeleteRegKey HKCU "Software\Playmark"
SectionEnd
