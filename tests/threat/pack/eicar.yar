rule eicar_test_file
{
  meta:
    description = "EICAR anti-virus test file"
  strings:
    $eicar = "EICAR-STANDARD-ANTIVIRUS-TEST-FILE"
  condition:
    $eicar
}
