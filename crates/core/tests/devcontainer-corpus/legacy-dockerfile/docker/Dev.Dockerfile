FROM localhost/aicockpit/base:latest
