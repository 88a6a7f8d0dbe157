module llamas

go 1.19
